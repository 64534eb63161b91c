#include "backup/snapshot.h"

#include <unistd.h>

#include <chrono>
#include <climits>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "backup/database_image.h"
#include "backup/object_codec.h"
#include "common/file_io.h"
#include "common/version.h"

namespace aura::backup {

namespace {

std::string HostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

std::string AbsolutePath(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) return path;
  return buf;
}

struct DataResult {
  ObjectSummary summary;
  WalPosition wal;
  JournalMode mode = JournalMode::kRollback;
  uint32_t page_size = 0;
  uint32_t page_count = 0;
  uint64_t pages_changed = 0;
};

void PutLE32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// Streams the page image into `writer`: every page, or with `incremental` only the pages whose
// hashes differ from `pages`, as (page number, page) records. `pages` (optional for a full
// snapshot) is updated to the image. kBusy means the WAL was reset mid-read: retry.
Result<DataResult> WriteData(DatabaseImage& image, ObjectWriter& writer, const ObjectSpec& spec,
                             const Key* key, int threads, DatabaseChecksum* checksum,
                             PageState* pages, bool incremental, Progress& progress) {
  AURA_ASSIGN_OR_RETURN(auto encoder, ObjectEncoder::Start(&writer, spec, key, threads));
  const uint32_t ps = image.page_size();
  DataResult r;
  std::vector<uint8_t> records;
  progress.Start("backup", image.size_bytes());
  AURA_RETURN_IF_ERROR(image.ForEachBlock(
      spec.block_size, [&](uint32_t first, std::vector<uint8_t>&& block) -> Status {
        progress.Add(block.size());
        for (size_t off = 0; off < block.size(); off += ps) {
          const uint32_t pgno = first + static_cast<uint32_t>(off / ps);
          std::span<const uint8_t> page(block.data() + off, ps);
          if (checksum != nullptr) checksum->SetPage(pgno, page);
          if (pages == nullptr) continue;
          std::pair<uint64_t, uint64_t> fast;
          if (!pages->Changed(pgno, page, &fast) && incremental) continue;
          pages->SetPage(pgno, page, &fast);
          if (!incremental) continue;
          ++r.pages_changed;
          PutLE32(records, pgno);
          records.insert(records.end(), page.begin(), page.end());
        }
        if (!incremental) return encoder->WriteBlock(std::move(block));
        if (records.size() < spec.block_size) return Status::Ok();
        Status s = encoder->Write(records);
        records.clear();
        return s;
      }));
  if (!records.empty()) AURA_RETURN_IF_ERROR(encoder->Write(records));
  if (pages != nullptr) pages->Truncate(image.page_count());
  r.wal = image.wal_position();
  r.mode = image.journal_mode();
  r.page_size = ps;
  r.page_count = image.page_count();
  // Every page is read: let checkpoints and writers go before the pipeline drains.
  image.Release();
  AURA_ASSIGN_OR_RETURN(r.summary, encoder->Finish());
  return r;
}

Result<DataResult> SnapshotData(const std::string& db_path, Repository& repo,
                                const ObjectSpec& spec, const SnapshotOptions& o, int threads,
                                PageState* pages) {
  const bool incremental = !o.base.empty();
  for (int attempt = 1;; ++attempt) {
    AURA_ASSIGN_OR_RETURN(auto image,
                          o.at ? DatabaseImage::OpenAt(db_path, o.busy_timeout_ms, o.at->salt1,
                                                       o.at->salt2, o.at->frame)
                               : DatabaseImage::Open(db_path, o.busy_timeout_ms));
    uint32_t bs =
        std::max(image->page_size(), spec.block_size / image->page_size() * image->page_size());
    ObjectSpec s = spec;
    s.block_size = bs;
    WriteOptions wo;
    wo.size_hint = incremental ? 0 : image->size_bytes() / 3;
    if (incremental && image->page_size() != o.pages->page_size()) {
      return InvalidArgument("the page size changed since snapshot " + o.base +
                             "; take a full snapshot");
    }
    AURA_ASSIGN_OR_RETURN(auto writer, repo.storage().Create(spec.name, wo));
    if (o.checksum != nullptr) *o.checksum = DatabaseChecksum(image->page_size());
    if (pages != nullptr) *pages = incremental ? *o.pages : PageState(image->page_size());
    auto r = WriteData(*image, *writer, s, repo.write_key(), threads, o.checksum, pages,
                       incremental, ProgressOr(o.progress));
    if (r.ok()) {
      AURA_RETURN_IF_ERROR(writer->Commit());
      return r;
    }
    writer->Abort();
    if (r.status().code() != Code::kBusy || attempt >= o.max_attempts) return r.status();
  }
}

}  // namespace

std::string DefaultDatabaseName(const std::string& db_path) {
  std::string base = BaseName(db_path);
  auto dot = base.find_last_of('.');
  if (dot != std::string::npos && dot > 0) base = base.substr(0, dot);
  return base.empty() ? "database" : base;
}

namespace {

// Where in continuous replication the image stands, if anywhere (SnapshotOptions::replication,
// ::replication_if_equal), with the image's database checksum.
std::optional<ReplicationPoint> ReplicationPointOf(const SnapshotOptions& o,
                                                   const PageState* pages) {
  std::optional<uint64_t> image;
  if (o.checksum != nullptr) image = o.checksum->value();
  if (!image && pages != nullptr) image = pages->db_checksum();
  std::optional<ReplicationPoint> rp = o.replication;
  if (!rp && o.replication_if_equal && image == o.replication_if_equal->db_checksum) {
    rp = o.replication_if_equal;
  }
  if (rp && image) rp->db_checksum = *image;
  return rp;
}

// The manifest of a snapshot whose data object is written: summary, source, checksums, chain
// and replication position. `pages`: the new image's page state (chains only).
Manifest BuildManifest(const std::string& db_path, Repository& repo, const SnapshotOptions& o,
                       const std::string& id, TimePoint created, const DataResult& data,
                       const PageState* pages) {
  Manifest m;
  SnapshotSummary& s = m.summary;
  s.database = o.database_name;
  s.snapshot = id;
  s.created = created;
  s.label = o.label;
  s.source_check_failed = o.source_check_failed;
  s.page_size = data.page_size;
  s.page_count = data.page_count;
  s.size = uint64_t{data.page_size} * data.page_count;
  s.encrypted = repo.write_key() != nullptr;
  s.key_id = s.encrypted ? repo.write_key()->IdHex() : "";
  m.host = HostName();
  m.source_path = AbsolutePath(db_path);
  m.journal_mode = data.mode == JournalMode::kWal ? "wal" : "rollback";
  // A full snapshot's plaintext is the database file; an incremental one's is its page records,
  // and the restored file is proven by the database checksum instead.
  m.sha256 = o.base.empty() ? HexEncode(data.summary.sha256) : "";
  if (pages != nullptr) {
    m.db_checksum = pages->db_checksum();
    if (!o.base.empty()) {
      s.kind = "incremental";
      s.base = o.base;
      m.base_db_checksum = o.pages->db_checksum();
      m.pages_changed = data.pages_changed;
    }
  }
  if (data.wal.frame > 0) m.wal = data.wal;
  if (auto rp = ReplicationPointOf(o, pages)) {
    m.replication = *rp;
    s.generation = rp->generation;
    s.txid = rp->txid;
  }
  m.objects.push_back({data.summary.name, "data", data.summary.stored_size,
                       data.summary.plaintext_size, data.summary.chunk_count,
                       HexEncode(data.summary.sha256)});
  m.agent_version = kAgentVersion;
  return m;
}

// Writes the manifest (no-overwrite): from here on the snapshot is listed.
Status WriteManifest(Repository& repo, const SnapshotRef& ref, TimePoint created,
                     const Manifest& m) {
  ObjectSpec ms;
  ms.kind = ObjectKind::kManifest;
  ms.name = ref.ManifestName();
  ms.created = created;
  ms.public_metadata = SummaryToJson(m.summary);
  const std::string manifest_json = ManifestToJson(m);
  WriteOptions no_overwrite;
  no_overwrite.no_overwrite = true;
  return PutSealedObject(repo.storage(), ms, AsBytes(manifest_json), repo.write_key(), no_overwrite)
      .status();
}

}  // namespace

Result<SnapshotResult> TakeSnapshot(const std::string& db_path, Repository& repo,
                                    const SnapshotOptions& o) {
  const Clock& clock = o.clock != nullptr ? *o.clock : SystemClock::Instance();
  AURA_RETURN_IF_ERROR(ValidateDatabaseName(o.database_name));
  AURA_RETURN_IF_ERROR(CheckDatabasePath(db_path));
  const auto t0 = std::chrono::steady_clock::now();
  const TimePoint created = clock.Now();
  AURA_ASSIGN_OR_RETURN(std::string id, NewSnapshotId(created));
  SnapshotRef ref{o.database_name, id, 0};

  ObjectSpec data_spec;
  data_spec.kind = ObjectKind::kSnapshotData;
  data_spec.name = ref.DataName();
  data_spec.block_size = o.block_size;
  data_spec.zstd_level = o.zstd_level;
  data_spec.created = created;
  int threads = o.threads > 0 ? o.threads : DefaultCodecThreads();
  if (!o.base.empty() && o.pages == nullptr) {
    return InvalidArgument("an incremental snapshot needs the page state of its base");
  }
  std::optional<PageState> pages;  // the new image's, moved into o.pages once the manifest is in
  if (o.pages != nullptr) pages.emplace();
  AURA_ASSIGN_OR_RETURN(DataResult data, SnapshotData(db_path, repo, data_spec, o, threads,
                                                      pages ? &*pages : nullptr));

  Manifest m = BuildManifest(db_path, repo, o, id, created, data, pages ? &*pages : nullptr);

  m.duration_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  m.summary.stored_size = data.summary.stored_size;  // the manifest adds a few hundred bytes

  AURA_RETURN_IF_ERROR(WriteManifest(repo, ref, created, m));
  if (pages) *o.pages = std::move(*pages);
  return SnapshotResult{ref, std::move(m)};
}

}  // namespace aura::backup
