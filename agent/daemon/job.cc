#include "agent/daemon/job.h"

#include <array>
#include <utility>

namespace aura::agent {

namespace {

constexpr std::array<std::pair<JobKind, std::string_view>, 11> kNames = {{
    {JobKind::kHourly, "hourly"},
    {JobKind::kDaily, "daily"},
    {JobKind::kWeekly, "weekly"},
    {JobKind::kMonthly, "monthly"},
    {JobKind::kBackup, "backup"},
    {JobKind::kCheck, "check"},
    {JobKind::kDrill, "drill"},
    {JobKind::kPrune, "prune"},
    {JobKind::kQuickCheck, "quick_check"},
    {JobKind::kVerify, "verify"},
    {JobKind::kMigrate, "migrate"},
}};

}  // namespace

std::string JobName(JobKind kind) {
  for (const auto& [k, name] : kNames) {
    if (k == kind) return std::string(name);
  }
  return "unknown";
}

std::optional<JobKind> ParseJob(std::string_view name) {
  for (const auto& [k, n] : kNames) {
    if (n == name) return k;
  }
  return std::nullopt;
}

bool IsPolicy(JobKind kind) {
  return kind == JobKind::kHourly || kind == JobKind::kDaily || kind == JobKind::kWeekly ||
         kind == JobKind::kMonthly;
}

bool IsSnapshot(JobKind kind) { return IsPolicy(kind) || kind == JobKind::kBackup; }

void JobOutcome::AddFailure(const std::string& target, const Status& failure) {
  const std::string message = "target " + target + ": " + failure.message();
  if (status.ok()) {
    status = Status(failure.code(), message);
    return;
  }
  const Code code = status.IsTransient() || !failure.IsTransient() ? status.code() : failure.code();
  status = Status(code, status.message() + "; " + message);
}

}  // namespace aura::agent
