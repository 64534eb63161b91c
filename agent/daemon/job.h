// The daemon's jobs for one database, as a type: which kinds there are, their names (the same in
// the config, the state database, the status JSON, metrics and logs), and how a run ended.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"

namespace aura::agent {

enum class JobKind {
  kHourly,  // the policy snapshots, each on its own incremental chain
  kDaily,
  kWeekly,
  kMonthly,
  kBackup,      // an admin's "backup now": the first enabled policy, else a full manual snapshot
  kCheck,       // integrity check of the live database (integrity_check + foreign_key_check)
  kQuickCheck,  // the hourly quick_check of the live database
  kDrill,       // restore drill of every target
  kPrune,       // retention
  kVerify,      // rolling verification of every target (integrity/rolling_verify.h)
  kMigrate,     // migrations.auto_apply: apply new migration files (migrations/safe_apply.h)
};

// "hourly", "daily", "weekly", "monthly", "backup", "check", "quick_check", "drill", "prune",
// "verify", "migrate".
std::string JobName(JobKind kind);
// The kind with that name; nullopt for any other string.
std::optional<JobKind> ParseJob(std::string_view name);
// hourly, daily, weekly or monthly.
bool IsPolicy(JobKind kind);
// Takes a snapshot: a policy or kBackup.
bool IsSnapshot(JobKind kind);

// How a job's run ended.
struct JobOutcome {
  // OK, or why it failed. With several targets failing, the messages are joined and the code is
  // a transient one if any failure was transient (a retry may then succeed where it failed).
  Status status;
  TimePoint finished{};
  int64_t duration_ms = 0;
  nlohmann::json detail = nlohmann::json::object();  // what it did, for status and logs

  bool ok() const { return status.ok(); }
  // Adds the failure of one target ("target T: message").
  void AddFailure(const std::string& target, const Status& failure);
};

}  // namespace aura::agent
