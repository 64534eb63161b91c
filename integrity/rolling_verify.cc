#include "integrity/rolling_verify.h"

#include <algorithm>

#include "integrity/verify.h"

namespace aura::integrity {

namespace {

constexpr std::string_view kSnapshotItem = "snapshot ";

}  // namespace

Result<std::vector<VerifyItemRef>> ListVerifyItems(backup::Repository& repo,
                                                   const std::string& database) {
  std::vector<VerifyItemRef> items;
  AURA_ASSIGN_OR_RETURN(auto snaps, repo.ListSnapshots(database));
  for (const backup::SnapshotRef& s : snaps) {
    items.push_back({std::string(kSnapshotItem) + s.id, s, std::nullopt});
  }
  AURA_ASSIGN_OR_RETURN(auto segs, repo.ListSegments(database));
  for (const backup::SegmentRef& s : segs) items.push_back({s.Name(), std::nullopt, s});
  std::sort(items.begin(), items.end(),
            [](const VerifyItemRef& a, const VerifyItemRef& b) { return a.name < b.name; });
  return items;
}

TimePoint CycleStart(TimePoint now, std::chrono::seconds every) {
  const int64_t len = std::max<int64_t>(1, every.count()) * 1000000;
  const int64_t us = ToUnixMicros(now);
  return FromUnixMicros(us - ((us % len) + len) % len);
}

std::vector<std::string> PlanRollingRun(const std::vector<std::string>& items,
                                        const std::map<std::string, TimePoint>& last_verified,
                                        TimePoint now, std::chrono::seconds every,
                                        std::chrono::seconds run_interval) {
  const TimePoint start = CycleStart(now, every);
  std::vector<std::string> plan;
  std::vector<std::pair<TimePoint, std::string>> due;  // (last verified, item)
  for (const std::string& item : items) {
    auto it = last_verified.find(item);
    if (it == last_verified.end()) {
      plan.push_back(item);  // new: verified soon after upload, counting for this cycle
    } else if (it->second < start) {
      due.emplace_back(it->second, item);
    }
  }
  // Runs left in this cycle, this one included: the last one takes whatever is left.
  const auto left_us = ToUnixMicros(start) + every.count() * 1000000 - ToUnixMicros(now);
  const int64_t interval_us = std::max<int64_t>(1, run_interval.count()) * 1000000;
  const int64_t runs_left = std::max<int64_t>(1, (left_us + interval_us - 1) / interval_us);
  const size_t share = static_cast<size_t>((int64_t(due.size()) + runs_left - 1) / runs_left);
  std::sort(due.begin(), due.end());
  for (size_t i = 0; i < share && i < due.size(); ++i) plan.push_back(due[i].second);
  return plan;
}

Status VerifyItem(backup::Repository& repo, const VerifyItemRef& item) {
  if (item.snapshot) {
    VerifyOptions o;
    o.database = item.snapshot->database;
    o.snapshot = item.snapshot->id;
    o.threads = 1;
    AURA_ASSIGN_OR_RETURN(VerifyReport r, VerifyRepository(repo, o));
    if (r.ok()) return Status::Ok();
    const ObjectProblem& p = r.bad.front();
    if (p.error.ok()) return Corruption(p.name + " is damaged");
    if (p.error.message().find(p.name) != std::string::npos) return p.error;
    return Status(p.error.code(), p.name + ": " + p.error.message());
  }
  if (!item.segment) return InvalidArgument(item.name + " is neither a snapshot nor a segment");
  uint64_t bytes = 0;
  AURA_ASSIGN_OR_RETURN(auto problem, VerifySegmentObject(repo, *item.segment, bytes, nullptr));
  return problem ? problem->error : Status::Ok();
}

}  // namespace aura::integrity
