#include "migrations/migration_plan.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace aura::migrations {
namespace {

const std::string kInit = "20251110120000_InitialCreate";
const std::string kPriority = "20251201000000_AddPriority";
const std::string kTags = "20251215000000_AddTags";

Migration Source(const std::string& id, char sha) {
  Migration m;
  m.id = id;
  m.name = id.substr(15);
  m.file = "/srv/app/migrations/" + id + ".sql";
  m.up = {{"CREATE TABLE \"T" + id.substr(0, 4) + "\" (x)", 1}};
  m.sha256 = std::string(64, sha);
  return m;
}

std::vector<Migration> Sources() {
  return {Source(kInit, '1'), Source(kPriority, '2'), Source(kTags, '3')};
}

AppliedMigration Applied(const std::string& id) { return {id, "9.0.0"}; }

AuditRecord Apply(const std::string& id, const std::string& sha) {
  AuditRecord r;
  r.migration_id = id;
  r.action = "apply";
  r.file = id + ".sql";
  r.sha256 = sha;
  r.applied_at = "2026-12-01T10:00:00Z";
  r.outcome = "applied";
  return r;
}

std::vector<std::string> Ids(const std::vector<Migration>& ms) {
  std::vector<std::string> out;
  for (const Migration& m : ms) out.push_back(m.id);
  return out;
}

// Appends the repair rows and plans again: what `migrate repair` followed by `migrate` sees.
MigrationPlan Repaired(const std::vector<Migration>& sources,
                       const std::vector<AppliedMigration>& history,
                       std::vector<AuditRecord> audit) {
  auto plan = PlanMigrations(sources, history, audit);
  EXPECT_TRUE(plan.ok());
  std::vector<AuditRecord> repairs = RepairRecords(*plan);
  EXPECT_EQ(repairs.size(), plan->drift.size());
  audit.insert(audit.end(), repairs.begin(), repairs.end());
  auto again = PlanMigrations(sources, history, audit);
  EXPECT_TRUE(again.ok());
  return *again;
}

TEST(PlanMigrations, NothingAppliedAllPending) {
  auto plan = PlanMigrations(Sources(), {}, {});
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(Ids(plan->pending), (std::vector<std::string>{kInit, kPriority, kTags}));
  EXPECT_TRUE(plan->drift.empty());
  ASSERT_EQ(plan->all.size(), 3u);
  EXPECT_FALSE(plan->all[0].applied);
  EXPECT_TRUE(DriftStatus(plan->drift).ok());
}

TEST(PlanMigrations, SourcesOutOfOrderArePlannedByIdAndListedOnce) {
  std::vector<Migration> sources = {Source(kTags, '3'), Source(kInit, '1'), Source(kPriority, '2')};
  auto plan = PlanMigrations(sources, {Applied(kInit)}, {});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(Ids(plan->pending), (std::vector<std::string>{kPriority, kTags}));
  ASSERT_EQ(plan->all.size(), 3u);
  EXPECT_EQ(plan->all[0].id, kInit);
  EXPECT_TRUE(plan->all[0].applied);
  EXPECT_EQ(plan->all[0].product_version, "9.0.0");
  EXPECT_EQ(plan->all[2].id, kTags);
}

TEST(PlanMigrations, PartiallyApplied) {
  std::vector<Migration> sources = Sources();  // plan->all points into it
  auto plan = PlanMigrations(sources, {Applied(kInit)}, {Apply(kInit, std::string(64, '1'))});
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(Ids(plan->pending), (std::vector<std::string>{kPriority, kTags}));
  EXPECT_TRUE(plan->drift.empty());
  ASSERT_TRUE(plan->all[0].applied_record.has_value());
  EXPECT_EQ(plan->all[0].recorded_sha256, std::string(64, '1'));
  ASSERT_NE(plan->all[0].source, nullptr);
  EXPECT_EQ(plan->all[0].source->id, kInit);
}

TEST(PlanMigrations, ToByIdAndByName) {
  auto by_id = PlanMigrations(Sources(), {Applied(kInit)}, {}, kPriority);
  ASSERT_TRUE(by_id.ok()) << by_id.status().ToString();
  EXPECT_EQ(Ids(by_id->pending), (std::vector<std::string>{kPriority}));
  auto by_name = PlanMigrations(Sources(), {}, {}, "AddPriority");
  ASSERT_TRUE(by_name.ok()) << by_name.status().ToString();
  EXPECT_EQ(Ids(by_name->pending), (std::vector<std::string>{kInit, kPriority}));
  EXPECT_EQ(by_name->all.size(), 3u);  // `all` is not cut by `to`
}

TEST(PlanMigrations, UnknownToIsNamed) {
  auto plan = PlanMigrations(Sources(), {}, {}, "AddPriorty");
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), Code::kInvalidArgument);
  EXPECT_NE(plan.status().message().find("AddPriorty"), std::string::npos);
}

TEST(PlanMigrations, AppliedToSaysRollback) {
  auto plan = PlanMigrations(Sources(), {Applied(kInit), Applied(kPriority)}, {}, "InitialCreate");
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), Code::kInvalidArgument);
  EXPECT_NE(plan.status().message().find("migrate rollback"), std::string::npos);
}

TEST(PlanMigrations, ChangedChecksumIsDriftNamingTheFile) {
  std::vector<AppliedMigration> history = {Applied(kInit)};
  std::vector<AuditRecord> audit = {Apply(kInit, std::string(64, 'f'))};
  auto plan = PlanMigrations(Sources(), history, audit);
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->drift.size(), 1u);
  const Drift& d = plan->drift[0];
  EXPECT_EQ(d.kind, DriftKind::kChanged);
  EXPECT_EQ(d.id, kInit);
  EXPECT_EQ(d.file, "/srv/app/migrations/" + kInit + ".sql");
  EXPECT_NE(d.message.find(kInit + ".sql"), std::string::npos) << d.message;
  EXPECT_NE(d.message.find("2026-12-01T10:00:00Z"), std::string::npos) << d.message;
  EXPECT_NE(d.message.find("ffffffffffff"), std::string::npos) << d.message;
  EXPECT_NE(d.message.find("111111111111"), std::string::npos) << d.message;

  MigrationPlan repaired = Repaired(Sources(), history, audit);
  EXPECT_TRUE(repaired.drift.empty());
  EXPECT_EQ(repaired.all[0].recorded_sha256, std::string(64, '1'));
}

TEST(PlanMigrations, ChangedMigrationOfAnEfScriptNamesIdAndScript) {
  Migration m = Source(kInit, '1');
  m.file = "/srv/app/migrations/release-3.sql";
  m.from_script = true;
  auto plan = PlanMigrations({m}, {Applied(kInit)}, {Apply(kInit, std::string(64, 'f'))});
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->drift.size(), 1u);
  EXPECT_NE(plan->drift[0].message.find("migration " + kInit + " in release-3.sql"),
            std::string::npos)
      << plan->drift[0].message;
}

TEST(PlanMigrations, UnknownIdIsDriftNamingTheId) {
  const std::string future = "20260101000000_AddOwners";
  std::vector<AppliedMigration> history = {Applied(kInit), Applied(kPriority), Applied(kTags),
                                           Applied(future)};
  auto plan = PlanMigrations(Sources(), history, {});
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->drift.size(), 1u);
  EXPECT_EQ(plan->drift[0].kind, DriftKind::kUnknown);
  EXPECT_EQ(plan->drift[0].file, "");
  EXPECT_NE(plan->drift[0].message.find(future), std::string::npos);
  ASSERT_EQ(plan->all.size(), 4u);
  EXPECT_EQ(plan->all[3].source, nullptr);
  EXPECT_TRUE(plan->all[3].applied);

  MigrationPlan repaired = Repaired(Sources(), history, {});
  EXPECT_TRUE(repaired.drift.empty());
  EXPECT_TRUE(repaired.pending.empty());
}

TEST(PlanMigrations, OlderPendingMigrationIsOutOfOrder) {
  std::vector<AppliedMigration> history = {Applied(kInit), Applied(kTags)};
  auto plan = PlanMigrations(Sources(), history, {});
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->drift.size(), 1u);
  EXPECT_EQ(plan->drift[0].kind, DriftKind::kOutOfOrder);
  EXPECT_EQ(plan->drift[0].id, kPriority);
  EXPECT_NE(plan->drift[0].message.find(kPriority + ".sql"), std::string::npos);
  EXPECT_EQ(Ids(plan->pending), (std::vector<std::string>{kPriority}));

  MigrationPlan repaired = Repaired(Sources(), history, {});
  EXPECT_TRUE(repaired.drift.empty());
  EXPECT_EQ(Ids(repaired.pending), (std::vector<std::string>{kPriority}));
}

TEST(PlanMigrations, AppliedByTheApplicationIsNeverChanged) {
  // No audit rows at all: the application ran every migration itself.
  auto plan = PlanMigrations(Sources(), {Applied(kInit), Applied(kPriority)}, {});
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->drift.empty());
  EXPECT_FALSE(plan->all[0].applied_record.has_value());
  EXPECT_EQ(plan->all[0].recorded_sha256, "");
}

TEST(PlanMigrations, RollbackVoidsEarlierApplyRows) {
  AuditRecord rollback = Apply(kPriority, "");
  rollback.action = "rollback";
  rollback.outcome = "rolled_back";
  std::vector<AuditRecord> audit = {Apply(kInit, std::string(64, '1')),
                                    Apply(kPriority, std::string(64, 'e')), rollback};
  // Rolled back by the agent, then re-applied by the application: no recorded checksum.
  auto plan = PlanMigrations(Sources(), {Applied(kInit), Applied(kPriority)}, audit);
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->drift.empty());
  // Re-applied by the agent with the current file: its new row counts.
  audit.push_back(Apply(kPriority, std::string(64, '2')));
  plan = PlanMigrations(Sources(), {Applied(kInit), Applied(kPriority)}, audit);
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->drift.empty());
  EXPECT_EQ(plan->all[1].recorded_sha256, std::string(64, '2'));
}

TEST(PlanMigrations, RepairOfUnknownKeepsEarlierChecksum) {
  // A repair row without a checksum does not erase the applied one.
  AuditRecord repair = Apply(kInit, "");
  repair.action = "repair";
  std::vector<AuditRecord> audit = {Apply(kInit, std::string(64, 'f')), repair};
  auto plan = PlanMigrations(Sources(), {Applied(kInit)}, audit);
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->drift.size(), 1u);
  EXPECT_EQ(plan->drift[0].kind, DriftKind::kChanged);
}

TEST(DriftStatus, RefusedListingEveryDriftAndRepair) {
  std::vector<AppliedMigration> history = {Applied(kInit), Applied(kTags),
                                           Applied("20260101000000_AddOwners")};
  std::vector<AuditRecord> audit = {Apply(kInit, std::string(64, 'f'))};
  std::vector<Migration> sources = Sources();  // RepairRecords reads plan->all[i].source
  auto plan = PlanMigrations(sources, history, audit);
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->drift.size(), 3u);
  Status s = DriftStatus(plan->drift);
  EXPECT_EQ(s.code(), Code::kRefused);
  for (const Drift& d : plan->drift) {
    EXPECT_NE(s.message().find("\n  " + d.message + "\n"), std::string::npos) << s.message();
  }
  EXPECT_NE(s.message().rfind("aura-agent migrate repair"), std::string::npos);
  EXPECT_GT(s.message().rfind("aura-agent migrate repair"), s.message().rfind('\n'));

  std::vector<AuditRecord> repairs = RepairRecords(*plan);
  ASSERT_EQ(repairs.size(), 3u);
  for (const AuditRecord& r : repairs) {
    EXPECT_EQ(r.action, "repair");
    EXPECT_EQ(r.outcome, "repaired");
  }
  EXPECT_EQ(repairs[0].migration_id, kInit);  // drift is in id order
  EXPECT_EQ(repairs[0].file, kInit + ".sql");
  EXPECT_EQ(repairs[0].sha256, std::string(64, '1'));
  EXPECT_NE(repairs[0].detail.find("accepted changed checksum (was ffff"), std::string::npos);
  EXPECT_EQ(repairs[1].migration_id, kPriority);
  EXPECT_EQ(repairs[1].sha256, std::string(64, '2'));
  EXPECT_EQ(repairs[1].detail, "accepted out of order");
  EXPECT_EQ(repairs[2].migration_id, "20260101000000_AddOwners");
  EXPECT_EQ(repairs[2].sha256, "");
  EXPECT_EQ(repairs[2].file, "");
  EXPECT_EQ(repairs[2].detail, "accepted unknown id applied outside this directory");
}

TEST(DriftKindName, Names) {
  EXPECT_STREQ(DriftKindName(DriftKind::kChanged), "changed");
  EXPECT_STREQ(DriftKindName(DriftKind::kUnknown), "unknown");
  EXPECT_STREQ(DriftKindName(DriftKind::kOutOfOrder), "out_of_order");
}

}  // namespace
}  // namespace aura::migrations
