#include "integrity/verify.h"

#include <set>

#include "backup/object_codec.h"
#include "common/hashing.h"

namespace aura::integrity {

using backup::Manifest;
using backup::ManifestObject;
using backup::SnapshotRef;

namespace {

Status VerifyObject(backup::Repository& repo, const ManifestObject& o, int threads,
                    uint64_t& bytes) {
  AURA_ASSIGN_OR_RETURN(auto reader, repo.storage().Open(o.name));
  AURA_ASSIGN_OR_RETURN(auto decoder, backup::ObjectDecoder::Open(std::move(reader), repo.keyring(),
                                                                  o.name, threads));
  AURA_ASSIGN_OR_RETURN(backup::ObjectSummary got,
                        decoder->ReadAll([](std::span<const uint8_t>) { return Status::Ok(); }));
  if (HexEncode(got.sha256) != o.sha256 || got.plaintext_size != o.plaintext_size) {
    return Corruption(o.name + ": content differs from what the manifest recorded");
  }
  bytes += got.plaintext_size;
  return Status::Ok();
}

}  // namespace

Result<VerifyReport> VerifyRepository(backup::Repository& repo, const VerifyOptions& options) {
  VerifyReport report;
  std::vector<SnapshotRef> refs;
  if (!options.snapshot.empty()) {
    AURA_ASSIGN_OR_RETURN(SnapshotRef r, repo.FindSnapshot(options.database, options.snapshot));
    refs.push_back(r);
  } else {
    AURA_ASSIGN_OR_RETURN(refs, repo.ListSnapshots(options.database));
  }
  const int threads = options.threads > 0 ? options.threads : backup::DefaultCodecThreads();
  std::set<std::string> referenced;
  for (const SnapshotRef& ref : refs) {
    ++report.snapshots;
    ++report.objects;
    auto manifest = repo.ReadManifest(ref);
    if (!manifest.ok()) {
      if (manifest.status().code() == Code::kKeyError) return manifest.status();
      report.bad.push_back({ref.ManifestName(), manifest.status()});
      referenced.insert(ref.DataName());  // not an orphan: its manifest is the problem
      continue;
    }
    for (const ManifestObject& o : manifest->objects) {
      ++report.objects;
      referenced.insert(o.name);
      Status s = VerifyObject(repo, o, threads, report.bytes);
      if (s.code() == Code::kKeyError) return s;
      if (!s.ok()) report.bad.push_back({o.name, s});
    }
  }
  if (options.snapshot.empty()) {
    std::string prefix = options.database.empty() ? "" : options.database + "/snapshots/";
    AURA_ASSIGN_OR_RETURN(auto objects, repo.storage().List(prefix));
    for (const auto& o : objects) {
      bool data = o.name.size() > 5 && o.name.compare(o.name.size() - 5, 5, ".data") == 0 &&
                  o.name.find("/snapshots/") != std::string::npos;
      if (data && !referenced.count(o.name)) report.orphans.push_back(o.name);
    }
  }
  return report;
}

}  // namespace aura::integrity
