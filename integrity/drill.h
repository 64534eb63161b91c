// Restore drills: prove that a repository restores, the way an operator would by hand, and
// measure how long it takes.
//
// A drill picks a point (the newest restorable state, or a random one among the snapshots and
// replicated transactions), restores it into a scratch directory (checksums verified on the way:
// the snapshot's SHA-256, and the database checksum before and after every WAL segment), runs
// PRAGMA integrity_check and foreign_key_check on the copy, then the operator's assertions (each
// SQL must return true, e.g. `SELECT count(*) > 0 FROM ProjectStates`), measures RTO (seconds
// from start to a verified database) and RPO (the restored point's age against the source's
// newest change, when the source is readable), and deletes the copy.
//
// Alongside the restore, on another thread, the drill verifies every object of the database in
// the repository (DrillOptions::verify_repository), so damage off the restore path fails it too.
//
// Outcome: pass; fail (a damaged or missing object, a failed check or assertion: the reason
// names it); or inconclusive (the drill could not tell: the target is unreachable, the key is
// missing): never a pass.
//
// Thread-safety: independent drills may run concurrently with different scratch directories.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backup/repository.h"
#include "common/progress.h"

namespace aura::integrity {

enum class DrillOutcome { kPass, kFail, kInconclusive };
// "pass", "fail", "inconclusive".
const char* DrillOutcomeName(DrillOutcome o);

struct DrillOptions {
  std::string database;
  std::string scratch_dir;  // created if missing; the restored copy is deleted afterwards
  bool random_point = false;
  uint64_t seed = 0;  // random_point: which point (0: from the clock)
  std::vector<std::string> assertions;
  std::string source_path;  // the live database, for RPO (empty: not measured)
  int threads = 2;
  // Also verify every object of the database in the repository (verify.h), alongside the restore:
  // a damaged object the restore path did not need still fails the drill, naming it. It does not
  // count towards RTO. `drill --no-verify` turns it off.
  bool verify_repository = true;
  // Receives the restore's progress (RestoreOptions::progress); nullptr: not reported.
  Progress* progress = nullptr;
};

struct DrillReport {
  DrillOutcome outcome = DrillOutcome::kInconclusive;
  std::string reason;     // why it failed or was inconclusive (names the object or the check)
  Code code = Code::kOk;  // the failure's code (kOk on a pass)
  std::string point;      // "latest" or "random"
  std::string restored;   // what was restored: "<snapshot> + N WAL segment(s) to txid T"
  std::string snapshot;   // the base snapshot
  uint64_t txid = 0;      // with WAL shipping: the transaction restored to
  uint64_t bytes = 0;
  std::vector<std::string> checks;  // what passed, in order
  double rto_seconds = 0;
  std::optional<double> rpo_seconds;
  bool passed() const { return outcome == DrillOutcome::kPass; }
};

// Runs one drill. Never an error value: every failure is a report with its outcome and reason.
DrillReport RunRestoreDrill(backup::Repository& repo, const DrillOptions& options);

}  // namespace aura::integrity
