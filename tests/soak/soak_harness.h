// The chaos soak's world (chaos_soak_test.cc): three live databases with a writer each, the agent
// (`aura-agent run`) shipping them to a real S3 server (moto) behind the fault proxy and to a local
// folder, its state directory (and so its spool) on a small tmpfs when the test may mount one, and
// the controls the soak's faults use: kill and restart the agent, fill the spool's disk, corrupt a
// stored object, read the status socket, restore a database and compare it.
#pragma once

#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sys/statfs.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/file_io.h"
#include "common/sqlite.h"
#include "integrity/logical_checksum.h"
#include "tests/support/fault_proxy.h"
#include "tests/support/moto_server.h"
#include "tests/support/test_env.h"
#include "tests/support/unix_http.h"
#include "tests/support/workload.h"
#include "tests/tools/aura_dataset.h"

namespace aura::soak {

namespace fs = std::filesystem;
using aura::testing::ChildProcess;
using aura::testing::ProcessResult;
using aura::testing::RunProcess;
using nlohmann::json;
using namespace std::chrono_literals;

// What the soak did and found; written to AURA_SOAK_REPORT and docs/RELIABILITY.md.
struct SoakCounts {
  int kills = 0, outages = 0, slow_spells = 0, disk_full_spells = 0, migrations = 0;
  int corruptions = 0, corruptions_reported = 0, restores_checked = 0, mismatches = 0;
  uint64_t transactions = 0;
  double seconds = 0;
  std::string disk_full_skipped;  // why there was no tmpfs to fill, if there was none

  json ToJson() const {
    return {{"seconds", seconds},
            {"kills", kills},
            {"outages", outages},
            {"slow_spells", slow_spells},
            {"disk_full_spells", disk_full_spells},
            {"disk_full_skipped", disk_full_skipped},
            {"migrations", migrations},
            {"corruptions", corruptions},
            {"corruptions_reported", corruptions_reported},
            {"transactions", transactions},
            {"restores_checked", restores_checked},
            {"mismatches", mismatches}};
  }
};

// One live database of the soak and the targets it ships to.
struct SoakDb {
  std::string name;
  std::vector<std::string> targets;
  std::string extra;  // more keys of its [[database]] table
  std::unique_ptr<aura::testing::Writer> writer;
};

using aura::testing::WaitUntil;

// A tmpfs of `mib` MiB mounted at `dir` while it lives (needs root; `error` says why not).
class SmallDisk {
 public:
  SmallDisk(const std::string& dir, int mib) : dir_(dir) {
    fs::create_directories(dir);
    ProcessResult r = RunProcess({"/bin/mount", "-t", "tmpfs", "-o",
                                  "size=" + std::to_string(mib) + "m,mode=0700", "tmpfs", dir});
    // Filling the disk must never reach a real one: the folder must be the tmpfs now.
    struct statfs f {};
    mounted_ = r.exit_code == 0 && ::statfs(dir.c_str(), &f) == 0 && f.f_type == TMPFS_MAGIC;
    if (r.exit_code == 0 && !mounted_) RunProcess({"/bin/umount", "-l", dir_});
    if (!mounted_) error_ = "could not mount a tmpfs at " + dir + " (needs root): " + r.err;
    max_bytes_ = (uint64_t{static_cast<uint64_t>(mib)} + 1) << 20;
  }
  ~SmallDisk() {
    if (mounted_) RunProcess({"/bin/umount", "-l", dir_});
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }

  // Writes a file until the disk has no byte left (never more than the tmpfs's size); returns
  // the bytes it took.
  uint64_t Fill(const std::string& file) {
    std::ofstream out(file, std::ios::binary);
    const std::string block(64 << 10, 'x');
    uint64_t written = 0;
    for (size_t size = block.size(); size > 0 && written < max_bytes_; size /= 2) {
      while (written < max_bytes_ &&
             out.write(block.data(), static_cast<std::streamsize>(size)).flush()) {
        written += size;
      }
      out.clear();
    }
    return written;
  }
  // The most Fill() writes: the tmpfs's size and a MiB.
  uint64_t max_bytes() const { return max_bytes_; }

 private:
  std::string dir_, error_;
  bool mounted_ = false;
  uint64_t max_bytes_ = 0;
};

class SoakWorld {
 public:
  explicit SoakWorld(const std::string& dir)
      : dir_(dir), moto_(true, "aura-soak"), proxy_(moto_.port()) {}

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }
  aura::testing::FaultProxy& proxy() { return proxy_; }
  aura::testing::MotoServer& moto() { return moto_; }
  std::string S3Url() const { return "s3://aura-soak/fleet"; }
  std::string Socket() const { return Path("agent.sock"); }

  ProcessResult Agent(std::vector<std::string> args, const std::vector<std::string>& env = {}) {
    args.insert(args.begin(), AURA_AGENT_BIN);
    return RunProcess(args, env);
  }

  // The config: `dbs` shipped continuously, "s3" through the proxy and "local" to a folder.
  std::string Config(const std::vector<SoakDb>& dbs, int other_minute) const {
    std::string t = "[agent]\nstate_dir = \"" + Path("state") + "\"\nstatus_socket = \"" +
                    Socket() + "\"\nlog_file = \"" + Path("agent.log") +
                    "\"\njitter = \"0s\"\npoll_ms = 20\nsegment_ms = 200\nlog_level = \"debug\"\n"
                    "shutdown_timeout = \"20s\"\n\n[keys]\nkey_file = \"" +
                    Path("k") + "\"\n\n[[target]]\nname = \"s3\"\nurl = \"" + S3Url() +
                    "\"\nendpoint = \"http://127.0.0.1:" + std::to_string(proxy_.port()) +
                    "\"\nregion = \"us-east-1\"\npath_style = true\nlist_top_prefix_only = true\n"
                    "max_attempts = 3\nconnect_timeout_ms = 1000\n\n[[target]]\nname = \"local\""
                    "\nurl = \"" +
                    Path("repo") + "\"\n";
    for (const SoakDb& d : dbs) {
      std::string targets;
      for (const std::string& x : d.targets)
        targets += (targets.empty() ? "\"" : ", \"") + x + "\"";
      t += "\n[[database]]\nname = \"" + d.name + "\"\npath = \"" + Path(d.name + ".db") +
           "\"\ntargets = [" + targets + "]\ncontinuous = true\nrpo = \"600s\"\n" +
           "hourly = { keep = 5, minute = " + std::to_string(other_minute) + " }\n" + d.extra;
    }
    return t;
  }

  void Start() {
    agent_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{AURA_AGENT_BIN, "run", "--config", Path("agent.toml")},
        moto_.Env(proxy_.port()));
    const bool up = WaitUntil(
        [&] {
          return !agent_->Running() ||
                 aura::testing::UnixHttp(Socket(), "GET", "/healthz").status != 0;
        },
        30s);
    ASSERT_TRUE(up && agent_->Running()) << "the agent did not start\n" << LogTail();
  }

  // Fails the test (with the exit and the log's end) if the agent exited on its own.
  void ExpectAlive(const std::string& when) {
    if (agent_ && agent_->Running()) return;
    std::string how = "not started";
    if (agent_) {
      ProcessResult r = agent_->Wait();
      how = "exit " + std::to_string(r.exit_code) + ": " + r.err;
      agent_.reset();
    }
    FAIL() << "the agent exited by itself (" << when << "): " << how << "\n" << LogTail();
  }

  void Kill() {
    agent_->Signal(SIGKILL);
    agent_->Wait();
    agent_.reset();
  }

  int Stop() {
    agent_->Signal(SIGTERM);
    ProcessResult r = agent_->Wait();
    agent_.reset();
    return r.exit_code;
  }

  std::string LogTail() const {
    auto text = ReadFileToString(Path("agent.log"), size_t{1} << 30);
    if (!text.ok()) return "(no log)";
    return text->size() > 6000 ? text->substr(text->size() - 6000) : *text;
  }

  json Status() {
    auto r = aura::testing::UnixHttp(Socket(), "GET", "/v1/status");
    if (r.status != 200) return json();
    json j = json::parse(r.body, nullptr, false);
    return j.is_discarded() ? json() : j;
  }

  json DbStatus(const std::string& name) {
    json st = Status();
    if (st.is_null()) return json();
    for (const json& d : st["databases"]) {
      if (d["name"] == name) return d;
    }
    return json();
  }

  // (spooled, uploaded) txids of `db` to `target`; zeros when unknown.
  std::pair<uint64_t, uint64_t> Shipped(const std::string& db, const std::string& target) {
    json d = DbStatus(db);
    if (d.is_null()) return {0, 0};
    for (const json& r : d["replication"]) {
      if (r["target"] == target) return {r["spooled_txid"], r["uploaded_txid"]};
    }
    return {0, 0};
  }

  std::string RepoUrl(const std::string& target) const {
    return target == "s3" ? S3Url() : Path("repo");
  }

  // `restore --latest` of `db` from `target` (S3 directly, not through the proxy) into `to`;
  // the restored txid, or nullopt with the error.
  std::optional<uint64_t> RestoreLatest(const std::string& db, const std::string& target,
                                        const std::string& to, std::string* error) {
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(to + suffix);  // an earlier check's
    ProcessResult r = Agent({"restore", "--from", RepoUrl(target), "--name", db, "--latest", "--to",
                             to, "--key-file", Path("k"), "--json"},
                            target == "s3" ? moto_.Env() : std::vector<std::string>{});
    if (r.exit_code != 0) {
      *error = "exit " + std::to_string(r.exit_code) + ": " + r.err;
      return std::nullopt;
    }
    json j = json::parse(r.out, nullptr, false);
    if (j.is_discarded() || !j.contains("txid")) {
      *error = "no txid in: " + r.out;
      return std::nullopt;
    }
    return j["txid"].get<uint64_t>();
  }

 private:
  std::string dir_;
  aura::testing::MotoServer moto_;
  aura::testing::FaultProxy proxy_;
  std::unique_ptr<ChildProcess> agent_;
};

}  // namespace aura::soak
