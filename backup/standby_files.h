// The files a warm standby keeps beside its database (standby.h): what it has reached, and the
// redo journal that makes applying a segment crash-safe.
//
//   <db>.aura-standby       JSON state: database, generation, txid, database checksum, page
//                           size and count, commit time of the txid. Replaced atomically after
//                           the database file is fsynced, so it never names a point the file
//                           has not reached. "seeding": true while a (re)seed replaces the file.
//   <db>.aura-standby-redo  The verified result of the segment being applied: the smallest size
//                           the database reaches in it, the final pages, the final size. Made
//                           durable (temp + rename) before the database is touched; applying it
//                           again is harmless (truncate to the smallest size, write every page,
//                           truncate to the final size), so a crash at any point is finished by
//                           the next start.
//   <db>.aura-standby.lock  Held by the follower ("restore --follow pid N", or the daemon).
//
// REDO JOURNAL, little-endian: magic "AURASBR1", generation (8), txid before (8), txid after
// (8), checksum after (8), commit time after (8, microseconds), page size (4), smallest page
// count (4), final page count (4), number of pages n (4); then n records of a 4-byte page number
// and the page.
//
// Thread-safety: plain functions and values.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace aura::backup {

struct StandbyState {
  std::string database;
  bool seeding = false;  // the file is being replaced by a (re)seed: not a usable point
  uint64_t generation = 0;
  uint64_t txid = 0;
  uint64_t checksum = 0;  // database checksum (db_checksum.h) of the file at txid
  uint32_t page_size = 0;
  uint32_t pages = 0;
  int64_t commit_us = 0;   // the source's observed commit time of txid (0: unknown)
  int64_t applied_us = 0;  // when the standby reached txid
};

struct StandbyRedo {
  uint64_t generation = 0;
  uint64_t txid_before = 0;
  uint64_t txid_after = 0;
  uint64_t checksum_after = 0;
  int64_t commit_us_after = 0;
  uint32_t page_size = 0;
  uint32_t min_pages = 0;
  uint32_t final_pages = 0;
  std::map<uint32_t, std::vector<uint8_t>> pages;  // final images, all <= final_pages
};

std::string StandbyStatePath(const std::string& db);
std::string StandbyRedoPath(const std::string& db);
std::string StandbyLockPath(const std::string& db);
// Present while a promotion asks the daemon's follower to let go of the standby (standby.h).
std::string StandbyReleasePath(const std::string& db);

// kNotFound when `db` is not a standby (no state file); kCorruption naming the file otherwise.
Result<StandbyState> ReadStandbyState(const std::string& db);
Status WriteStandbyState(const std::string& db, const StandbyState& state);

// nullopt-like: kNotFound when there is no redo journal.
Result<StandbyRedo> ReadStandbyRedo(const std::string& db);
Status WriteStandbyRedo(const std::string& db, const StandbyRedo& redo);
// Applies the journal to the database file and fsyncs it (idempotent).
Status ApplyStandbyRedo(const std::string& db, const StandbyRedo& redo);

// Finishes what a killed follower left: a redo journal for the point `state` stands at is
// applied and `state` advanced (and written); one already applied, or stale, is removed.
// kCorruption when the journal is damaged (the file may be half-applied: reseed).
Status RecoverStandbyRedo(const std::string& db, StandbyState& state);

// The database checksum of the whole file, computed by `threads` threads (0: one per core);
// `page_size` and `pages` say what the file must hold (kCorruption if its size differs).
Result<uint64_t> ChecksumDatabaseFile(const std::string& path, uint32_t page_size, uint32_t pages,
                                      int threads);

}  // namespace aura::backup
