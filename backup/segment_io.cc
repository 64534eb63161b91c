#include "backup/segment_io.h"

#include <nlohmann/json.hpp>

#include "backup/object_codec.h"
#include "common/json_number.h"

namespace aura::backup {

Status ReadSegment(Repository& repo, const SegmentRef& s,
                   const std::function<Status(std::span<const uint8_t>)>& sink) {
  AURA_ASSIGN_OR_RETURN(auto reader, repo.storage().Open(s.Name()));
  AURA_ASSIGN_OR_RETURN(auto decoder, ObjectDecoder::Open(std::move(reader), repo.keyring(),
                                                          s.Name(), DefaultCodecThreads()));
  Status st = decoder->ReadAll(sink).status();
  return st.ok() ? st : st.WithContext(s.Name());
}

Result<SegmentHeader> ReadSegmentHeader(Repository& repo, const SegmentRef& s) {
  std::vector<uint8_t> head;
  AURA_RETURN_IF_ERROR(ReadSegment(repo, s, [&](std::span<const uint8_t> d) {
    size_t take =
        std::min(d.size(), kSegmentHeaderSize - std::min(head.size(), kSegmentHeaderSize));
    head.insert(head.end(), d.begin(), d.begin() + take);
    return Status::Ok();
  }));
  auto h = DecodeSegmentHeader(head);
  if (!h.ok()) return h.status().WithContext(s.Name());
  return h;
}

Result<std::pair<int64_t, int64_t>> SegmentCommitTimes(Repository& repo, const SegmentRef& s) {
  AURA_ASSIGN_OR_RETURN(auto reader, repo.storage().Open(s.Name(), 0, kMaxHeaderSize));
  AURA_ASSIGN_OR_RETURN(ObjectHeader h, ReadObjectHeader(*reader, s.Name()));
  try {
    auto j = nlohmann::json::parse(h.public_metadata);
    return std::make_pair(JsonInt<int64_t>(j.at("first_commit_us"), "first_commit_us"),
                          JsonInt<int64_t>(j.at("last_commit_us"), "last_commit_us"));
  } catch (const nlohmann::json::exception&) {
    return Corruption(s.Name() + ": header metadata has no commit times");
  }
}

Status WriteSegmentObject(
    Repository& repo, const SegmentRef& ref, const SegmentHeader& h, TimePoint now,
    const std::function<Status(const std::function<Status(std::span<const uint8_t>)>&)>& body) {
  ObjectSpec spec;
  spec.kind = ObjectKind::kWalSegment;
  spec.name = ref.Name();
  spec.generation = h.generation;
  spec.first_position = h.first_txid;
  spec.last_position = h.last_txid;
  spec.created = now;
  spec.public_metadata = nlohmann::json{
      {"database", ref.database},
      {"generation", GenerationName(h.generation)},
      {"level", ref.level},
      {"first_txid", h.first_txid},
      {"last_txid", h.last_txid},
      {"transactions", h.txn_count},
      {"first_commit_us", h.first_commit_us},
      {"last_commit_us",
       h.last_commit_us}}.dump();
  WriteOptions wo;
  wo.no_overwrite = true;
  AURA_ASSIGN_OR_RETURN(auto writer, repo.storage().Create(spec.name, wo));
  AURA_ASSIGN_OR_RETURN(auto encoder,
                        ObjectEncoder::Start(writer.get(), spec, repo.write_key(), 1));
  auto header = EncodeSegmentHeader(h);
  AURA_RETURN_IF_ERROR(encoder->Write(header));
  AURA_RETURN_IF_ERROR(body([&](std::span<const uint8_t> d) { return encoder->Write(d); }));
  AURA_RETURN_IF_ERROR(encoder->Finish().status());
  Status committed = writer->Commit();
  // Already there: written by an earlier run that stopped before recording it.
  if (!committed.ok() && committed.code() != Code::kAlreadyExists) return committed;
  return Status::Ok();
}

}  // namespace aura::backup
