// The progress line: when it is shown, what it says, how the terminal display draws and clears
// it, and that backup, restore and verify report every byte of their work.
#include "common/progress.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>

#include "backup/restore.h"
#include "backup/snapshot.h"
#include "backup/storage/local_storage.h"
#include "integrity/verify.h"
#include "tests/support/test_env.h"

namespace aura {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr uint64_t kMiB = 1024 * 1024;

// An interactive terminal with no service manager; each test changes one fact.
struct Facts {
  bool tty = true;
  bool json = false;
  bool no_progress = false;
  std::map<std::string, std::string> env = {{"TERM", "xterm-256color"}};

  bool Wanted() const {
    ProgressContext c;
    c.stderr_is_tty = tty;
    c.json = json;
    c.no_progress = no_progress;
    c.getenv = [this](const char* name) -> const char* {
      auto it = env.find(name);
      return it == env.end() ? nullptr : it->second.c_str();
    };
    return ProgressWanted(c);
  }
};

TEST(ProgressWanted, OnAnInteractiveTerminal) { EXPECT_TRUE(Facts().Wanted()); }

TEST(ProgressWanted, OffWhenStderrIsNotATerminal) {
  Facts f;
  f.tty = false;
  EXPECT_FALSE(f.Wanted());
}

TEST(ProgressWanted, OffUnderJsonAndNoProgress) {
  Facts json;
  json.json = true;
  EXPECT_FALSE(json.Wanted());
  Facts off;
  off.no_progress = true;
  EXPECT_FALSE(off.Wanted());
}

TEST(ProgressWanted, OffOnADumbTerminal) {
  Facts f;
  f.env["TERM"] = "dumb";
  EXPECT_FALSE(f.Wanted());
  f.env.erase("TERM");  // no TERM at all: still a terminal (isatty said so)
  EXPECT_TRUE(f.Wanted());
}

TEST(ProgressWanted, OffUnderSystemd) {
  for (const char* var : {"INVOCATION_ID", "NOTIFY_SOCKET"}) {
    Facts f;
    f.env[var] = "1a2b3c";
    EXPECT_FALSE(f.Wanted()) << var;
    f.env[var] = "";  // set but empty: not a service manager's
    EXPECT_TRUE(f.Wanted()) << var;
  }
}

TEST(ProgressWanted, OffUnderLaunchdButNotInATerminalSession) {
  Facts job;
  job.env["LAUNCHD_JOB"] = "com.aura.agent";
  EXPECT_FALSE(job.Wanted());
  Facts xpc;
  xpc.env["XPC_SERVICE_NAME"] = "com.aura.agent";
  EXPECT_FALSE(xpc.Wanted());
  xpc.env["XPC_SERVICE_NAME"] = "0";  // what Terminal.app sessions carry
  EXPECT_TRUE(xpc.Wanted());
}

TEST(ProgressLine, KnownTotalShowsPercentRateAndTimeLeft) {
  // 312 of 1011.2 MiB in 0.776 s: 402.1 MiB/s, 699.2 MiB left: 1.74 s, shown rounded as 0:02.
  const uint64_t total = static_cast<uint64_t>(1011.2 * kMiB);
  EXPECT_EQ(FormatProgressLine("restore", 312 * kMiB, total, milliseconds(776)),
            "restore  312.0 MiB / 1011.2 MiB  30%  402.1 MiB/s  ETA 0:02");
}

TEST(ProgressLine, TimeLeftInMinutesAndHours) {
  EXPECT_EQ(FormatProgressLine("backup", 10 * kMiB, 1000 * kMiB, seconds(10)),
            "backup  10.0 MiB / 1000.0 MiB  1%  1.0 MiB/s  ETA 16:30");
  EXPECT_EQ(FormatProgressLine("backup", kMiB, 10000 * kMiB, seconds(1)),
            "backup  1.0 MiB / 9.8 GiB  0%  1.0 MiB/s  ETA 2:46:39");
}

TEST(ProgressLine, UnknownTotalShowsBytesAndRateOnly) {
  EXPECT_EQ(FormatProgressLine("verify", 512 * 1024, 0, seconds(2)),
            "verify  512.0 KiB  256.0 KiB/s");
}

TEST(ProgressLine, NoRateBeforeAnythingIsDone) {
  EXPECT_EQ(FormatProgressLine("backup", 0, 3 * kMiB, seconds(0)), "backup  0 B / 3.0 MiB  0%");
  EXPECT_EQ(FormatProgressLine("backup", 0, 3 * kMiB, seconds(5)), "backup  0 B / 3.0 MiB  0%");
  EXPECT_EQ(FormatProgressLine("verify", 100, 0, seconds(0)), "verify  100 B");
}

TEST(ProgressLine, DoneShowsOneHundredPercentWithoutARate) {
  // Past an estimated total the percent stays at 100; while a restore checks, nothing moves.
  EXPECT_EQ(FormatProgressLine("restore", 5 * kMiB, 4 * kMiB, seconds(3)),
            "restore  5.0 MiB / 4.0 MiB  100%");
}

// Records what the engine reports.
class RecordingProgress final : public Progress {
 public:
  void Start(std::string_view what, uint64_t total) override {
    what_ = what;
    total_ = total;
    done_ = 0;
    ++starts_;
  }
  void AddTotal(uint64_t bytes) override { total_ += bytes; }
  void Add(uint64_t bytes) override { done_ += bytes; }
  void Finish() override {}

  std::string what_;
  std::atomic<uint64_t> total_{0}, done_{0};
  int starts_ = 0;
};

TEST(ProgressShare, ReportsExactlyTheOtherTotal) {
  RecordingProgress p;
  ProgressShare share(p, 1000, 333);
  for (int i = 0; i < 7; ++i) share.Add(100);
  EXPECT_LT(p.done_, 333u);
  share.Add(300);
  EXPECT_EQ(p.done_, 333u);
}

TEST(TerminalProgress, DrawsAtStartAndClearsTheLineAtFinish) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  {
    TerminalProgress p(f);
    p.Start("backup", 2 * kMiB);
    p.Add(kMiB);
    p.Finish();
    p.Finish();  // idempotent: nothing more is written
  }
  std::rewind(f);
  std::string text(4096, '\0');
  text.resize(std::fread(text.data(), 1, text.size(), f));
  std::fclose(f);
  const std::string first = "\rbackup  0 B / 2.0 MiB  0%\033[K";
  EXPECT_EQ(text.substr(0, first.size()), first);
  const std::string clear = "\r\033[K";
  ASSERT_GE(text.size(), first.size() + clear.size());
  EXPECT_EQ(text.substr(text.size() - clear.size()), clear);
  EXPECT_EQ(text.find('\n'), std::string::npos) << "one line, redrawn in place";
}

// The engine reports every byte of its work, with a total to match.
class EngineProgressTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(aura::testing::MakeTestDb(dir_ / "src.db", true, 3000).ok());
    storage_ = std::make_shared<backup::LocalStorage>(dir_ / "repo");
    backup::KeySource keys;
    keys.kind = backup::KeySource::Kind::kNone;
    auto repo = backup::Repository::OpenForWrite(storage_, keys, SystemClock::Instance());
    ASSERT_TRUE(repo.ok()) << repo.status().ToString();
    repo_ = std::move(repo).value();
  }

  aura::testing::TempDir dir_;
  std::shared_ptr<backup::LocalStorage> storage_;
  std::unique_ptr<backup::Repository> repo_;
};

TEST_F(EngineProgressTest, BackupRestoreAndVerifyReportAllTheirBytes) {
  RecordingProgress p;
  backup::SnapshotOptions so;
  so.database_name = "db";
  so.block_size = 64 * 1024;
  so.progress = &p;
  auto snap = backup::TakeSnapshot(dir_ / "src.db", *repo_, so);
  ASSERT_TRUE(snap.ok()) << snap.status().ToString();
  EXPECT_EQ(p.what_, "backup");
  EXPECT_EQ(p.total_, snap->manifest.summary.size);
  EXPECT_EQ(p.done_, p.total_);

  backup::RestoreOptions ro;
  ro.progress = &p;
  auto restored = backup::RestoreSnapshot(*repo_, snap->ref, dir_ / "restored.db", ro);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(p.what_, "restore");
  EXPECT_EQ(p.total_, restored->bytes);
  EXPECT_EQ(p.done_, p.total_);

  integrity::VerifyOptions vo;
  vo.progress = &p;
  auto report = integrity::VerifyRepository(*repo_, vo);
  ASSERT_TRUE(report.ok() && report->ok());
  EXPECT_EQ(p.what_, "verify");
  EXPECT_EQ(p.total_, snap->manifest.objects.front().stored_size);  // the data object
  EXPECT_EQ(p.done_, p.total_);
}

}  // namespace
}  // namespace aura
