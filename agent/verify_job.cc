// The daemon's rolling verification job (jobs.h RunRollingVerify).
#include <nlohmann/json.hpp>
#include <set>

#include "agent/jobs.h"
#include "integrity/rolling_verify.h"

namespace aura::agent {

namespace {

// Could the check not tell (key, network, permissions)? Then nothing is recorded for the item.
bool CouldNotTell(const Status& s) {
  return s.code() == Code::kKeyError || s.IsTransient() || s.code() == Code::kPermissionDenied;
}

}  // namespace

Result<RollingVerifyReport> RunRollingVerify(backup::Repository& repo, const DatabaseConfig& db,
                                             const std::string& target, StateStore& state,
                                             TimePoint now) {
  const std::chrono::seconds every(db.verify.every_s);
  AURA_ASSIGN_OR_RETURN(auto items, integrity::ListVerifyItems(repo, db.name));
  std::set<std::string> present;
  std::vector<std::string> names;
  for (const auto& i : items) {
    present.insert(i.name);
    names.push_back(i.name);
  }
  AURA_RETURN_IF_ERROR(state.ForgetObjectsExcept(db.name, target, present));
  AURA_ASSIGN_OR_RETURN(auto checks, state.ObjectChecks(db.name, target));
  std::map<std::string, TimePoint> last;
  for (const auto& [item, c] : checks) last[item] = c.verified;
  const auto plan = integrity::PlanRollingRun(names, last, now, every, kRollingVerifyInterval);
  std::map<std::string, const integrity::VerifyItemRef*> by_name;
  for (const auto& i : items) by_name[i.name] = &i;
  RollingVerifyReport r;
  for (const std::string& name : plan) {
    Status s = integrity::VerifyItem(repo, *by_name[name]);
    if (CouldNotTell(s)) return s.WithContext("verifying " + name);
    ObjectCheck c{now, s.ok(), s.ok() ? "" : s.message()};
    AURA_RETURN_IF_ERROR(state.RecordObjectCheck(db.name, target, name, c));
    checks[name] = c;
    ++r.verified_now;
    r.verified.push_back(name);
  }
  r.items = static_cast<int>(items.size());
  r.cycle_start = integrity::CycleStart(now, every);
  for (const auto& [item, c] : checks) {
    if (c.verified >= r.cycle_start) ++r.verified_in_cycle;
    if (!c.ok) r.problems.emplace_back(item, c.error);
  }
  return r;
}

nlohmann::json RollingVerifyJson(const std::string& target, const RollingVerifyReport& r) {
  nlohmann::json problems = nlohmann::json::array();
  for (const auto& [object, error] : r.problems) {
    problems.push_back({{"object", object}, {"error", error}});
  }
  return {{"target", target},
          {"objects", r.items},
          {"verified_now", r.verified_now},
          {"verified_in_cycle", r.verified_in_cycle},
          {"cycle_started", FormatRfc3339(r.cycle_start, 0)},
          {"problems", problems}};
}

}  // namespace aura::agent
