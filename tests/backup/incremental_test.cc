// Snapshot chains: a full snapshot, then incremental ones holding only changed pages; every
// snapshot of the chain restores byte for byte to the source as it was, and a chain that does
// not add up (a missing base, a page state from elsewhere) is refused, never restored wrong.
#include <gtest/gtest.h>

#include "backup/page_state.h"
#include "backup/restore.h"
#include "backup/snapshot.h"
#include "backup/storage/local_storage.h"
#include "common/sqlite.h"
#include "tests/support/test_env.h"

namespace aura::backup {
namespace {

using aura::testing::FileSha256;
using aura::testing::TempDir;

class IncrementalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage_ = std::make_shared<LocalStorage>(dir_ / "repo");
    ASSERT_TRUE(CreateKeyFile(dir_ / "key").ok());
    KeySource keys;
    keys.kind = KeySource::Kind::kKeyFile;
    keys.key_file = dir_ / "key";
    auto r = Repository::OpenForWrite(storage_, keys, SystemClock::Instance());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    repo_ = std::move(r).value();
    ASSERT_TRUE(aura::testing::MakeTestDb(src(), false, 4000).ok());
  }

  std::string src() { return dir_ / "src.db"; }

  Result<SnapshotResult> Snap(PageState* pages, const std::string& base) {
    SnapshotOptions o;
    o.database_name = "db";
    o.block_size = 64 * 1024;
    o.pages = pages;
    o.base = base;
    return TakeSnapshot(src(), *repo_, o);
  }

  void Exec(const std::string& sql) {
    auto db = SqliteDb::Open(src(), SQLITE_OPEN_READWRITE, 1000);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Exec(sql).ok()) << sql;
  }

  std::string RestoreSha(const SnapshotRef& ref, const std::string& name) {
    auto r = RestoreSnapshot(*repo_, ref, dir_ / name, {});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return "";
    EXPECT_EQ(r->integrity, "ok");
    return FileSha256(dir_ / name);
  }

  TempDir dir_;
  std::shared_ptr<LocalStorage> storage_;
  std::unique_ptr<Repository> repo_;
};

TEST_F(IncrementalTest, EverySnapshotOfAChainRestoresToItsSource) {
  PageState pages;
  auto full = Snap(&pages, "");
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  ASSERT_TRUE(full->manifest.db_checksum.has_value());
  EXPECT_EQ(full->manifest.summary.kind, "full");
  std::vector<std::pair<SnapshotRef, std::string>> taken{{full->ref, FileSha256(src())}};

  // A few scattered updates, then growth, then a shrink (VACUUM rewrites and truncates).
  const std::vector<std::string> changes = {
      "UPDATE t SET name = 'changed' WHERE id IN (7, 900, 2100, 3999)",
      "INSERT INTO t(name, body) SELECT 'grown', randomblob(3000) FROM t LIMIT 300",
      "DELETE FROM t WHERE id > 1000", "VACUUM", "UPDATE t SET body = zeroblob(10) WHERE id = 3"};
  std::string base = full->ref.id;
  for (const std::string& sql : changes) {
    Exec(sql);
    auto inc = Snap(&pages, base);
    ASSERT_TRUE(inc.ok()) << sql << ": " << inc.status().ToString();
    EXPECT_EQ(inc->manifest.summary.kind, "incremental");
    EXPECT_EQ(inc->manifest.summary.base, base);
    EXPECT_LT(inc->manifest.pages_changed, inc->manifest.summary.page_count) << sql;
    base = inc->ref.id;
    taken.push_back({inc->ref, FileSha256(src())});
  }
  // The first increment touched four rows: a handful of pages, not the database.
  auto first_inc = repo_->ReadManifest(taken[1].first);
  ASSERT_TRUE(first_inc.ok());
  EXPECT_LE(first_inc->pages_changed, 16u);
  EXPECT_LT(first_inc->summary.stored_size * 10, full->manifest.summary.stored_size);

  for (size_t i = 0; i < taken.size(); ++i) {
    EXPECT_EQ(RestoreSha(taken[i].first, "out" + std::to_string(i) + ".db"), taken[i].second)
        << "snapshot " << i;
  }
  auto chain = SnapshotChain(*repo_, taken.back().first);
  ASSERT_TRUE(chain.ok());
  EXPECT_EQ(chain->size(), taken.size());
}

TEST_F(IncrementalTest, AnUnchangedDatabaseGivesAnEmptyIncrement) {
  PageState pages;
  auto full = Snap(&pages, "");
  ASSERT_TRUE(full.ok());
  auto inc = Snap(&pages, full->ref.id);
  ASSERT_TRUE(inc.ok()) << inc.status().ToString();
  EXPECT_EQ(inc->manifest.pages_changed, 0u);
  EXPECT_EQ(RestoreSha(inc->ref, "out.db"), FileSha256(src()));
}

TEST_F(IncrementalTest, AMissingBaseIsNamedAndNothingIsRestored) {
  PageState pages;
  auto full = Snap(&pages, "");
  ASSERT_TRUE(full.ok());
  Exec("UPDATE t SET name = 'x' WHERE id = 1");
  auto inc = Snap(&pages, full->ref.id);
  ASSERT_TRUE(inc.ok());
  ASSERT_TRUE(storage_->Delete(full->ref.ManifestName()).ok());
  auto r = RestoreSnapshot(*repo_, inc->ref, dir_ / "out.db", {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_NE(r.status().message().find(full->ref.id), std::string::npos) << r.status().message();
  EXPECT_FALSE(PathExists(dir_ / "out.db"));
}

TEST_F(IncrementalTest, APageStateFromAnotherImageIsCaughtAtRestore) {
  PageState stale;
  auto full = Snap(&stale, "");
  ASSERT_TRUE(full.ok());
  PageState pages = stale;
  Exec("UPDATE t SET name = 'one' WHERE id = 11");
  auto first = Snap(&pages, full->ref.id);
  ASSERT_TRUE(first.ok());
  Exec("UPDATE t SET name = 'two' WHERE id = 2011");
  // Wrong: claims `first` as base but diffs against the full snapshot's state, so the page
  // changed by `first` is missing from this increment.
  PageState wrong = stale;
  auto bad = Snap(&wrong, first->ref.id);
  ASSERT_TRUE(bad.ok());
  auto r = RestoreSnapshot(*repo_, bad->ref, dir_ / "out.db", {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kCorruption) << r.status().ToString();
  EXPECT_FALSE(PathExists(dir_ / "out.db"));
}

TEST(PageState, SerializesAndRejectsDamage) {
  PageState s(4096);
  std::vector<uint8_t> page(4096, 7);
  for (uint32_t p = 1; p <= 10; ++p) {
    page[0] = static_cast<uint8_t>(p);
    s.SetPage(p, page);
  }
  std::string blob = s.Serialize();
  auto back = PageState::Parse(AsBytes(blob));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->pages(), 10u);
  EXPECT_EQ(back->db_checksum(), s.db_checksum());
  std::pair<uint64_t, uint64_t> fast;
  page[0] = 3;
  EXPECT_FALSE(back->Changed(3, page, &fast));
  page[1] = 1;
  EXPECT_TRUE(back->Changed(3, page, &fast));
  blob[40] ^= 1;
  EXPECT_EQ(PageState::Parse(AsBytes(blob)).status().code(), Code::kCorruption);
}

}  // namespace
}  // namespace aura::backup
