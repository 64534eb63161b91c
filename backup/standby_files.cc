#include "backup/standby_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "backup/db_checksum.h"
#include "backup/object_codec.h"
#include "common/bytes.h"
#include "common/file_io.h"

namespace aura::backup {

namespace {

constexpr char kRedoMagic[8] = {'A', 'U', 'R', 'A', 'S', 'B', 'R', '1'};
constexpr size_t kRedoHeader = 8 + 8 * 5 + 4 * 4;

std::string Hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

Result<uint64_t> ParseHex64(const std::string& s) {
  if (s.empty() || s.size() > 16) return InvalidArgument("not a 64-bit hex value: " + s);
  uint64_t v = 0;
  for (char c : s) {
    int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
            : (c >= 'a' && c <= 'f')                    ? c - 'a' + 10
                                                        : -1;
    if (d < 0) return InvalidArgument("not a 64-bit hex value: " + s);
    v = v << 4 | static_cast<uint64_t>(d);
  }
  return v;
}

// Opens the standby's database file for writing, without creating it.
Result<File> OpenForWrite(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open", path);
  return File(fd, path);
}

}  // namespace

std::string StandbyStatePath(const std::string& db) { return db + ".aura-standby"; }
std::string StandbyRedoPath(const std::string& db) { return db + ".aura-standby-redo"; }
std::string StandbyLockPath(const std::string& db) { return db + ".aura-standby.lock"; }
std::string StandbyReleasePath(const std::string& db) { return db + ".aura-standby.release"; }

Result<StandbyState> ReadStandbyState(const std::string& db) {
  const std::string path = StandbyStatePath(db);
  if (!PathExists(path)) {
    return NotFound(db + " is not a standby (no " + path +
                    "); start one with aura-agent restore --follow --to " + db);
  }
  AURA_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path, 1 << 20));
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    StandbyState s;
    s.database = j.at("database").get<std::string>();
    s.seeding = j.value("seeding", false);
    s.generation = j.at("generation").get<uint64_t>();
    s.txid = j.at("txid").get<uint64_t>();
    AURA_ASSIGN_OR_RETURN(s.checksum, ParseHex64(j.at("checksum").get<std::string>()));
    s.page_size = j.at("page_size").get<uint32_t>();
    s.pages = j.at("pages").get<uint32_t>();
    s.commit_us = j.value("commit_us", int64_t{0});
    s.applied_us = j.value("applied_us", int64_t{0});
    return s;
  } catch (const std::exception& e) {
    return Corruption(path + " is not a standby state file (" + e.what() +
                      "); reseed the standby with restore --follow --force --to " + db);
  }
}

Status WriteStandbyState(const std::string& db, const StandbyState& s) {
  const nlohmann::json j = {
      {"database", s.database}, {"seeding", s.seeding},          {"generation", s.generation},
      {"txid", s.txid},         {"checksum", Hex64(s.checksum)}, {"page_size", s.page_size},
      {"pages", s.pages},       {"commit_us", s.commit_us},      {"applied_us", s.applied_us}};
  return WriteFileAtomic(StandbyStatePath(db), j.dump(2) + "\n", 0600);
}

Status WriteStandbyRedo(const std::string& db, const StandbyRedo& r) {
  AURA_ASSIGN_OR_RETURN(TempFile tmp, TempFile::Create(StandbyRedoPath(db), 0600));
  std::vector<uint8_t> head(kRedoHeader);
  uint8_t* p = head.data();
  std::memcpy(p, kRedoMagic, 8);
  PutLE64(p + 8, r.generation);
  PutLE64(p + 16, r.txid_before);
  PutLE64(p + 24, r.txid_after);
  PutLE64(p + 32, r.checksum_after);
  PutLE64(p + 40, static_cast<uint64_t>(r.commit_us_after));
  PutLE32(p + 48, r.page_size);
  PutLE32(p + 52, r.min_pages);
  PutLE32(p + 56, r.final_pages);
  PutLE32(p + 60, static_cast<uint32_t>(r.pages.size()));
  AURA_RETURN_IF_ERROR(tmp.file().WriteAll(head));
  for (const auto& [pgno, page] : r.pages) {
    uint8_t n[4];
    PutLE32(n, pgno);
    AURA_RETURN_IF_ERROR(tmp.file().WriteAll(n));
    AURA_RETURN_IF_ERROR(tmp.file().WriteAll(page));
  }
  return tmp.Commit(/*no_replace=*/false);
}

Result<StandbyRedo> ReadStandbyRedo(const std::string& db) {
  const std::string path = StandbyRedoPath(db);
  if (!PathExists(path)) return NotFound("no redo journal " + path);
  AURA_ASSIGN_OR_RETURN(File f, File::OpenForRead(path));
  std::vector<uint8_t> head(kRedoHeader);
  AURA_ASSIGN_OR_RETURN(size_t n, f.ReadFull(head));
  const auto bad = [&](const std::string& why) {
    return Corruption(path + ": " + why + "; delete it and reseed the standby");
  };
  if (n != head.size() || std::memcmp(head.data(), kRedoMagic, 8) != 0) {
    return bad("not a standby redo journal");
  }
  const uint8_t* p = head.data();
  StandbyRedo r;
  r.generation = GetLE64(p + 8);
  r.txid_before = GetLE64(p + 16);
  r.txid_after = GetLE64(p + 24);
  r.checksum_after = GetLE64(p + 32);
  r.commit_us_after = static_cast<int64_t>(GetLE64(p + 40));
  r.page_size = GetLE32(p + 48);
  r.min_pages = GetLE32(p + 52);
  r.final_pages = GetLE32(p + 56);
  const uint32_t count = GetLE32(p + 60);
  if (r.page_size < 512 || r.page_size > 65536 || count > r.final_pages) {
    return bad("impossible header");
  }
  std::vector<uint8_t> rec(4 + r.page_size);
  for (uint32_t i = 0; i < count; ++i) {
    AURA_ASSIGN_OR_RETURN(size_t got, f.ReadFull(rec));
    if (got != rec.size()) return bad("ends early");
    const uint32_t pgno = GetLE32(rec.data());
    if (pgno == 0 || pgno > r.final_pages) return bad("page number out of range");
    r.pages[pgno].assign(rec.begin() + 4, rec.end());
  }
  return r;
}

Status ApplyStandbyRedo(const std::string& db, const StandbyRedo& r) {
  AURA_ASSIGN_OR_RETURN(File f, OpenForWrite(db));
  AURA_ASSIGN_OR_RETURN(uint64_t size, f.Size());
  const off_t ps = r.page_size;
  if (size > uint64_t(r.min_pages) * r.page_size && ::ftruncate(f.fd(), r.min_pages * ps) != 0) {
    return ErrnoStatus(errno, "truncate", db);
  }
  for (const auto& [pgno, page] : r.pages) {
    if (::pwrite(f.fd(), page.data(), page.size(), off_t{pgno - 1} * ps) !=
        static_cast<ssize_t>(page.size())) {
      return ErrnoStatus(errno, "write", db);
    }
  }
  if (::ftruncate(f.fd(), r.final_pages * ps) != 0) return ErrnoStatus(errno, "truncate", db);
  return f.Sync();
}

Status RecoverStandbyRedo(const std::string& db, StandbyState& state) {
  auto redo = ReadStandbyRedo(db);
  if (redo.status().code() == Code::kNotFound) return Status::Ok();
  AURA_RETURN_IF_ERROR(redo.status());
  if (redo->generation == state.generation && redo->txid_before == state.txid && !state.seeding) {
    AURA_RETURN_IF_ERROR(ApplyStandbyRedo(db, *redo));
    state.txid = redo->txid_after;
    state.checksum = redo->checksum_after;
    state.pages = redo->final_pages;
    state.commit_us = redo->commit_us_after;
    AURA_RETURN_IF_ERROR(WriteStandbyState(db, state));
  }
  if (::unlink(StandbyRedoPath(db).c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus(errno, "remove", StandbyRedoPath(db));
  }
  return Status::Ok();
}

Result<uint64_t> ChecksumDatabaseFile(const std::string& path, uint32_t page_size, uint32_t pages,
                                      int threads) {
  AURA_ASSIGN_OR_RETURN(File f, File::OpenForRead(path));
  AURA_ASSIGN_OR_RETURN(uint64_t size, f.Size());
  if (size != uint64_t{page_size} * pages) {
    return Corruption(path + " holds " + std::to_string(size) + " bytes, not the " +
                      std::to_string(uint64_t{page_size} * pages) + " its standby state records");
  }
  const int n = std::max(1, threads > 0 ? threads : DefaultCodecThreads());
  std::vector<uint64_t> part(static_cast<size_t>(n), 0);
  std::vector<Status> errors(static_cast<size_t>(n));
  std::vector<std::thread> pool;
  const uint32_t per = pages / static_cast<uint32_t>(n) + 1;
  for (int t = 0; t < n; ++t) {
    pool.emplace_back([&, t] {
      const uint32_t first = static_cast<uint32_t>(t) * per + 1;
      const uint32_t last = std::min(pages, first + per - 1);
      const uint32_t block = std::max<uint32_t>(1, (1u << 20) / page_size);
      std::vector<uint8_t> buf(size_t{block} * page_size);
      for (uint32_t p = first; p <= last && p != 0; p += block) {
        const uint32_t k = std::min(block, last - p + 1);
        std::span<uint8_t> span(buf.data(), size_t{k} * page_size);
        auto got = f.ReadAt(uint64_t{p - 1} * page_size, span);
        if (!got.ok() || *got != span.size()) {
          errors[static_cast<size_t>(t)] =
              got.ok() ? Corruption(path + " ends early") : got.status();
          return;
        }
        for (uint32_t i = 0; i < k; ++i) {
          part[static_cast<size_t>(t)] ^=
              PageHash(p + i, span.subspan(size_t{i} * page_size, page_size));
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  uint64_t value = 0;
  for (int t = 0; t < n; ++t) {
    AURA_RETURN_IF_ERROR(errors[static_cast<size_t>(t)]);
    value ^= part[static_cast<size_t>(t)];
  }
  return value;
}

}  // namespace aura::backup
