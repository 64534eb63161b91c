// The warm standby (backup/standby.h) against real WAL shipping of a real database: it follows
// every segment, refuses a damaged one and stays at its last verified point, finishes an apply a
// killed follower left half done, and promotes to exactly the source at its txid.
#include "backup/standby.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backup/db_checksum.h"
#include "backup/segment_io.h"
#include "backup/standby_files.h"
#include "tests/support/replicated_repo.h"

namespace aura::backup {
namespace {

using aura::testing::ReplicatedRepoTest;

class StandbyTest : public ReplicatedRepoTest {
 protected:
  std::string StandbyPath() { return dir_ / "standby.db"; }

  std::unique_ptr<Standby> OpenStandby(const StandbyOptions& o = {}) {
    auto sb = Standby::Open(*repo_, StandbyPath(), o);
    EXPECT_TRUE(sb.ok()) << sb.status().ToString();
    return sb.ok() ? std::move(sb).value() : nullptr;
  }

  std::string StandbyChecksum() { return *integrity::LogicalChecksumOfFile(StandbyPath()); }

  // Starts shipping live.db and ships `commits` transactions, 30 s of fake time apart.
  void StartShipping(int commits) {
    shipper_ = std::make_unique<Replicator>(ShippingOptions(), repo_);
    ASSERT_TRUE(shipper_->Start().ok());
    ShipMore(commits);
  }
  void ShipMore(int commits) { ShipRecording(*shipper_, commits, std::chrono::seconds(30)); }

  // The level-0 segments that start after `txid`, oldest first.
  std::vector<SegmentRef> SegmentsAfter(uint64_t txid) {
    std::vector<SegmentRef> out;
    for (const SegmentRef& s : Segments(0)) {
      if (s.first_txid > txid) out.push_back(s);
    }
    return out;
  }

  // Replaces segment `s` with a validly sealed object (authentication passes) whose header
  // `edit` changed: what another source shipping under the same name would upload.
  void Reseal(const SegmentRef& s, const std::function<void(SegmentHeader&)>& edit) {
    std::vector<uint8_t> plain;
    ASSERT_TRUE(ReadSegment(*repo_, s, [&](std::span<const uint8_t> d) {
                  plain.insert(plain.end(), d.begin(), d.end());
                  return Status::Ok();
                }).ok());
    ASSERT_GT(plain.size(), kSegmentHeaderSize);
    auto h = DecodeSegmentHeader(std::span<const uint8_t>(plain).first(kSegmentHeaderSize));
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    edit(*h);
    ASSERT_TRUE(RemoveFile(dir_ / ("repo/" + s.Name())).ok());
    Status w = WriteSegmentObject(
        *repo_, s, *h, clock_.Now(),
        [&](const std::function<Status(std::span<const uint8_t>)>& write) {
          return write(std::span<const uint8_t>(plain).subspan(kSegmentHeaderSize));
        });
    ASSERT_TRUE(w.ok()) << w.ToString();
  }

  // Seeds a standby, ships four more segments, reseals the second new one with `edit` and
  // checks the catch-up refuses it with `why`, leaving the standby at the first new one.
  void ExpectResealedSegmentRefused(const std::function<void(SegmentHeader&)>& edit,
                                    const std::string& why) {
    StartShipping(2);
    auto sb = OpenStandby();
    ASSERT_NE(sb, nullptr);
    const uint64_t seeded = sb->state().txid;
    ShipMore(4);
    const std::vector<SegmentRef> fresh = SegmentsAfter(seeded);
    ASSERT_GE(fresh.size(), 2u);
    Reseal(fresh[1], edit);
    if (HasFatalFailure()) return;
    auto step = sb->CatchUp();
    ASSERT_FALSE(step.ok()) << "a segment that " << why << " was applied";
    EXPECT_EQ(step.status().code(), Code::kCorruption) << step.status().ToString();
    EXPECT_NE(step.status().message().find(why), std::string::npos) << step.status().message();
    EXPECT_EQ(sb->state().txid, fresh[0].last_txid);
    EXPECT_EQ(StandbyChecksum(), truth_[fresh[0].last_txid]);
  }

  std::unique_ptr<Replicator> shipper_;
};

TEST_F(StandbyTest, FollowsEverySegmentAndPromotesToTheSourceAtItsTxid) {
  StartShipping(3);
  auto sb = OpenStandby();
  ASSERT_NE(sb, nullptr);
  const uint64_t seeded = sb->state().txid;
  ASSERT_TRUE(truth_.count(seeded)) << seeded;
  ShipMore(6);
  auto step = sb->CatchUp();
  ASSERT_TRUE(step.ok()) << step.status().ToString();
  EXPECT_EQ(step->from_txid, seeded);
  EXPECT_EQ(step->to_txid, truth_.rbegin()->first);
  EXPECT_GE(step->segments, 1u);
  const uint64_t at = sb->state().txid;
  sb.reset();  // the follower stops
  auto promoted = PromoteStandby(StandbyPath(), IntegrityLevel::kFull, 2, std::chrono::seconds(5));
  ASSERT_TRUE(promoted.ok()) << promoted.status().ToString();
  EXPECT_EQ(promoted->txid, at);
  EXPECT_EQ(StandbyChecksum(), truth_[at]);
  EXPECT_FALSE(PathExists(StandbyStatePath(StandbyPath())));
  EXPECT_FALSE(PathExists(StandbyLockPath(StandbyPath())));
  // An ordinary database now: a second promotion says it is not a standby.
  EXPECT_EQ(PromoteStandby(StandbyPath(), IntegrityLevel::kNone, 1, std::chrono::seconds(1))
                .status()
                .code(),
            Code::kNotFound);
}

TEST_F(StandbyTest, ADamagedSegmentIsRefusedAndTheStandbyStaysAtTheLastVerifiedPoint) {
  StartShipping(2);
  auto sb = OpenStandby();
  ASSERT_NE(sb, nullptr);
  const uint64_t seeded = sb->state().txid;
  ShipMore(4);
  const std::vector<SegmentRef> fresh = SegmentsAfter(seeded);
  ASSERT_GE(fresh.size(), 2u);
  FlipByte(fresh[1].Name());
  auto step = sb->CatchUp();
  ASSERT_FALSE(step.ok());
  EXPECT_EQ(step.status().code(), Code::kCorruption) << step.status().ToString();
  EXPECT_NE(step.status().message().find(fresh[1].Name()), std::string::npos)
      << step.status().message();
  EXPECT_NE(step.status().message().find("stays at txid " + std::to_string(fresh[0].last_txid)),
            std::string::npos)
      << step.status().message();
  EXPECT_EQ(sb->state().txid, fresh[0].last_txid);
  EXPECT_EQ(StandbyChecksum(), truth_[fresh[0].last_txid]);
  EXPECT_FALSE(PathExists(StandbyRedoPath(StandbyPath())));
  sb.reset();
  auto promoted = PromoteStandby(StandbyPath(), IntegrityLevel::kQuick, 2, std::chrono::seconds(5));
  ASSERT_TRUE(promoted.ok()) << promoted.status().ToString();
  EXPECT_EQ(promoted->txid, fresh[0].last_txid);
}

// Authentic segments that do not continue the standby (another database's or generation's, or
// one starting from a different database state) are refused before a page is written.
TEST_F(StandbyTest, AValidlySealedSegmentOfAnotherGenerationIsRefused) {
  ExpectResealedSegmentRefused([](SegmentHeader& h) { h.generation += 1; },
                               "belongs to another database or generation");
}

TEST_F(StandbyTest, AValidlySealedSegmentFromAnotherDatabaseStateIsRefused) {
  ExpectResealedSegmentRefused([](SegmentHeader& h) { h.checksum_before ^= 1; },
                               "does not start from the standby's database");
}

// A follower killed after its redo journal was durable, with the database half written: the
// next start finishes the apply.
TEST_F(StandbyTest, AnApplyAKilledFollowerLeftHalfDoneIsFinishedAtTheNextStart) {
  StartShipping(2);
  auto sb = OpenStandby();
  ASSERT_NE(sb, nullptr);
  const StandbyState before = sb->state();
  const std::string db_before = *ReadFileToString(StandbyPath());
  ShipMore(4);
  ASSERT_TRUE(sb->CatchUp().ok());
  const StandbyState after = sb->state();
  ASSERT_GT(after.txid, before.txid);
  const std::string db_after = *ReadFileToString(StandbyPath());
  sb.reset();
  // The redo journal of before -> after: every page of the result.
  StandbyRedo redo;
  redo.generation = before.generation;
  redo.txid_before = before.txid;
  redo.txid_after = after.txid;
  redo.checksum_after = after.checksum;
  redo.commit_us_after = after.commit_us;
  redo.page_size = after.page_size;
  redo.min_pages = std::min(before.pages, after.pages);
  redo.final_pages = after.pages;
  for (uint32_t p = 1; p <= after.pages; ++p) {
    const auto* page =
        reinterpret_cast<const uint8_t*>(db_after.data()) + size_t{p - 1} * after.page_size;
    redo.pages[p].assign(page, page + after.page_size);
  }
  // The kill: state and file as before, then half of the pages written.
  ASSERT_TRUE(WriteStandbyState(StandbyPath(), before).ok());
  std::string half = db_before;
  half.replace(0, db_after.size() / 2, db_after.substr(0, db_after.size() / 2));
  ASSERT_TRUE(WriteFileAtomic(StandbyPath(), half).ok());
  ASSERT_TRUE(WriteStandbyRedo(StandbyPath(), redo).ok());

  sb = OpenStandby();
  ASSERT_NE(sb, nullptr);
  EXPECT_EQ(sb->state().txid, after.txid);
  EXPECT_EQ(*ReadFileToString(StandbyPath()), db_after);
  EXPECT_FALSE(PathExists(StandbyRedoPath(StandbyPath())));
  EXPECT_EQ(StandbyChecksum(), truth_[after.txid]);
}

TEST_F(StandbyTest, AnExistingDatabaseIsNotReplacedWithoutForce) {
  StartShipping(1);
  ASSERT_TRUE(WriteFileAtomic(StandbyPath(), "precious").ok());
  auto refused = Standby::Open(*repo_, StandbyPath(), {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kAlreadyExists);
  EXPECT_EQ(*ReadFileToString(StandbyPath()), "precious");
  StandbyOptions force;
  force.force = true;
  EXPECT_NE(OpenStandby(force), nullptr);
  EXPECT_EQ(StandbyChecksum(), truth_.rbegin()->second);
}

// Regression (issue 14): a follow refused because --to is an ordinary database left the
// standby's lock file beside it.
TEST_F(StandbyTest, ARefusedFollowLeavesNoLockFileBesideTheDatabase) {
  StartShipping(1);
  ASSERT_TRUE(WriteFileAtomic(StandbyPath(), "precious").ok());
  auto refused = Standby::Open(*repo_, StandbyPath(), {});
  ASSERT_EQ(refused.status().code(), Code::kAlreadyExists);
  EXPECT_FALSE(PathExists(StandbyLockPath(StandbyPath())));
  EXPECT_EQ(*ReadFileToString(StandbyPath()), "precious");
}

// Regression (issue 14): seeding a standby with --force over an existing file gave it the
// agent's owner and mode 0640 instead of those of the file it replaced.
TEST_F(StandbyTest, AForcedSeedKeepsTheReplacedFilesOwnerGroupAndMode) {
  StartShipping(1);
  ASSERT_TRUE(WriteFileAtomic(StandbyPath(), "precious", 0664).ok());
  const bool root = ::geteuid() == 0;
  const uid_t uid = root ? 65534 : ::geteuid();
  const gid_t gid = root ? 65534 : ::getegid();
  ASSERT_EQ(::chown(StandbyPath().c_str(), uid, gid), 0);
  StandbyOptions force;
  force.force = true;
  ASSERT_NE(OpenStandby(force), nullptr);
  struct stat st;
  ASSERT_EQ(::stat(StandbyPath().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0664u);
  EXPECT_EQ(st.st_uid, uid);
  EXPECT_EQ(st.st_gid, gid);
  EXPECT_EQ(StandbyChecksum(), truth_.rbegin()->second);
}

TEST_F(StandbyTest, ASecondFollowerOfTheSameStandbyIsRefused) {
  StartShipping(1);
  auto sb = OpenStandby();
  ASSERT_NE(sb, nullptr);
  auto second = Standby::Open(*repo_, StandbyPath(), {});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kBusy) << second.status().ToString();
}

TEST_F(StandbyTest, PromotionRefusesAFileChangedOutsideTheFollower) {
  StartShipping(2);
  auto sb = OpenStandby();
  ASSERT_NE(sb, nullptr);
  sb.reset();
  std::string bytes = *ReadFileToString(StandbyPath());
  bytes[bytes.size() - 100] ^= 0x01;
  ASSERT_TRUE(WriteFileAtomic(StandbyPath(), bytes).ok());
  auto promoted = PromoteStandby(StandbyPath(), IntegrityLevel::kNone, 2, std::chrono::seconds(5));
  ASSERT_FALSE(promoted.ok());
  EXPECT_EQ(promoted.status().code(), Code::kCorruption) << promoted.status().ToString();
  EXPECT_TRUE(PathExists(StandbyStatePath(StandbyPath()))) << "still a standby, not promoted";
}

}  // namespace
}  // namespace aura::backup
