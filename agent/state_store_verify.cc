// StateStore: what rolling verification checked (integrity/rolling_verify.h).
#include "agent/state_store.h"

namespace aura::agent {

Result<std::map<std::string, ObjectCheck>> StateStore::ObjectChecks(const std::string& database,
                                                                    const std::string& target) {
  std::lock_guard lock(mu_);
  AURA_ASSIGN_OR_RETURN(Statement st,
                        db_.Prepare("SELECT item, verified_us, ok, error FROM object_checks "
                                    "WHERE database = ? AND target = ?"));
  AURA_RETURN_IF_ERROR(st.BindAll(database, target));
  std::map<std::string, ObjectCheck> out;
  for (;;) {
    AURA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out[st.ColumnText(0)] =
        ObjectCheck{FromUnixMicros(st.ColumnInt64(1)), st.ColumnInt64(2) != 0, st.ColumnText(3)};
  }
  return out;
}

Status StateStore::RecordObjectCheck(const std::string& database, const std::string& target,
                                     const std::string& item, const ObjectCheck& check) {
  std::lock_guard lock(mu_);
  AURA_ASSIGN_OR_RETURN(
      Statement st,
      db_.Prepare("INSERT OR REPLACE INTO object_checks(database, target, item, verified_us, ok, "
                  "error) VALUES(?, ?, ?, ?, ?, ?)"));
  AURA_RETURN_IF_ERROR(st.BindAll(database, target, item, ToUnixMicros(check.verified),
                                  int64_t{check.ok ? 1 : 0}, check.error));
  return st.Step().status();
}

Status StateStore::ForgetObjectsExcept(const std::string& database, const std::string& target,
                                       const std::set<std::string>& present) {
  AURA_ASSIGN_OR_RETURN(auto known, ObjectChecks(database, target));
  std::lock_guard lock(mu_);
  AURA_ASSIGN_OR_RETURN(
      Statement st,
      db_.Prepare("DELETE FROM object_checks WHERE database = ? AND target = ? AND item = ?"));
  for (const auto& [item, check] : known) {
    if (present.count(item)) continue;
    AURA_RETURN_IF_ERROR(st.Reset());
    AURA_RETURN_IF_ERROR(st.BindAll(database, target, item));
    AURA_RETURN_IF_ERROR(st.Step().status());
  }
  return Status::Ok();
}

}  // namespace aura::agent
