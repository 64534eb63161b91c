#include "backup/key_retirement.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "backup/object_codec.h"
#include "backup/storage/local_storage.h"
#include "common/bytes.h"
#include "common/file_io.h"
#include "common/hashing.h"
#include "common/platform.h"
#include "common/secure_wipe.h"

namespace aura::backup {

namespace {

// Reads exactly buf.size() bytes unless the object ends first; returns the count.
Result<size_t> ReadFull(ObjectReader& in, std::span<uint8_t> buf) {
  size_t done = 0;
  while (done < buf.size()) {
    AURA_ASSIGN_OR_RETURN(size_t n, in.Read(buf.subspan(done)));
    if (n == 0) break;
    done += n;
  }
  return done;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The objects in scope: snapshot data, manifests and WAL segments (the marker and anything that
// is not an object of ours are not sealed, so never need a key; nor is an object whose database
// part cannot name a database, which no restore reads).
Result<std::vector<std::string>> ListObjects(Storage& storage, const std::string& database) {
  std::vector<std::string> prefixes = {""};
  if (!database.empty()) prefixes = {database + "/snapshots/", database + "/wal/"};
  std::vector<std::string> names;
  for (const std::string& p : prefixes) {
    AURA_ASSIGN_OR_RETURN(std::vector<ObjectInfo> infos, storage.List(p));
    for (const ObjectInfo& i : infos) {
      const bool ours =
          EndsWith(i.name, ".data") || EndsWith(i.name, ".manifest") || EndsWith(i.name, ".seg");
      if (ours && HasUsableDatabasePart(i.name, storage)) {
        names.push_back(i.name);
      }
    }
  }
  return names;
}

Result<ObjectHeader> ReadHeaderOf(Storage& storage, const std::string& name) {
  AURA_ASSIGN_OR_RETURN(auto in, storage.Open(name, 0, kMaxHeaderSize));
  return ReadObjectHeader(*in, name);
}

// Upper bound of a chunk's payload: a zstd frame of one block (compressBound) or the trailer.
uint64_t MaxPayload(const ObjectHeader& h) {
  return uint64_t{h.block_size} + (h.block_size >> 7) + 65536;
}

// One chunk of `in` opened with `from` and sealed again with `to` into `out`. Sets `final` and,
// for the final chunk, `trailer`.
Status ResealChunk(ObjectReader& in, uint64_t index, const ObjectHeader& h, const ChunkSealer& from,
                   const ChunkSealer& to, ObjectWriter& out, bool& final, Trailer& trailer) {
  uint8_t word[4];
  AURA_ASSIGN_OR_RETURN(size_t n, ReadFull(in, word));
  if (n != 4) return Corruption(h.name + ": truncated before chunk " + std::to_string(index));
  const uint32_t w = GetLE32(word);
  final = (w & kFinalFlag) != 0;
  const uint32_t len = w & ~kFinalFlag;
  if (len > MaxPayload(h)) {
    return Corruption(h.name + ": chunk " + std::to_string(index) + " length out of range");
  }
  std::vector<uint8_t> buf(size_t{len} + kTagSize);
  AURA_ASSIGN_OR_RETURN(n, ReadFull(in, buf));
  if (n != buf.size()) return Corruption(h.name + ": truncated in chunk " + std::to_string(index));
  auto plain = from.Open(index, final, std::span<const uint8_t>(buf.data(), len),
                         std::span<const uint8_t>(buf.data() + len, kTagSize));
  if (!plain.ok()) return plain.status().WithContext(h.name);
  if (final) {
    if (plain->size() != kTrailerSize) return Corruption(h.name + ": bad trailer size");
    trailer = DecodeTrailer(std::span<const uint8_t, kTrailerSize>(plain->data(), kTrailerSize));
  }
  AURA_ASSIGN_OR_RETURN(std::vector<uint8_t> sealed, to.Seal(index, final, *plain));
  return out.Append(sealed);
}

// Re-seals the object `in` (positioned after the header `old_h`) under `new_key` into `out`:
// same name, payloads and trailer; new key id and salt. Returns the trailer.
Result<Trailer> ResealChunks(ObjectReader& in, const ObjectHeader& old_h, const Key& old_key,
                             const Key& new_key, ObjectWriter& out) {
  ObjectHeader h = old_h;
  h.key_id = new_key.id;
  AURA_RETURN_IF_ERROR(RandomBytes(h.salt));
  AURA_ASSIGN_OR_RETURN(std::vector<uint8_t> header, EncodeHeader(h));
  AURA_RETURN_IF_ERROR(out.Append(header));
  AURA_ASSIGN_OR_RETURN(ChunkSealer from, ChunkSealer::Create(old_h, &old_key));
  AURA_ASSIGN_OR_RETURN(ChunkSealer to, ChunkSealer::Create(h, &new_key));
  Trailer trailer;
  for (uint64_t i = 0;; ++i) {
    bool final = false;
    AURA_RETURN_IF_ERROR(ResealChunk(in, i, old_h, from, to, out, final, trailer));
    if (final) break;
  }
  uint8_t extra = 0;
  AURA_ASSIGN_OR_RETURN(size_t n, ReadFull(in, std::span<uint8_t>(&extra, 1)));
  if (n != 0) return Corruption(old_h.name + ": bytes after the final chunk");
  return trailer;
}

// Decrypts, authenticates and decompresses `name` from `storage` with `keys`, and checks its
// plaintext against `expect`.
Status VerifyObject(Storage& storage, const std::string& name, const Keyring& keys,
                    const Trailer& expect) {
  AURA_ASSIGN_OR_RETURN(auto in, storage.Open(name));
  AURA_ASSIGN_OR_RETURN(auto decoder, ObjectDecoder::Open(std::move(in), keys, name, 1));
  AURA_ASSIGN_OR_RETURN(ObjectSummary s,
                        decoder->ReadAll([](std::span<const uint8_t>) { return Status::Ok(); }));
  if (s.sha256 != expect.sha256 || s.plaintext_size != expect.plaintext_size ||
      s.chunk_count != expect.chunk_count) {
    return Corruption(name + ": the re-sealed object's plaintext differs from the original");
  }
  return Status::Ok();
}

// Copies a whole object from `from` to `to` under the same name (replacing what is there).
Status CopyObject(Storage& from, Storage& to, const std::string& name) {
  AURA_ASSIGN_OR_RETURN(ObjectInfo info, from.Stat(name));
  AURA_ASSIGN_OR_RETURN(auto in, from.Open(name));
  WriteOptions w;
  w.size_hint = info.size;
  AURA_ASSIGN_OR_RETURN(auto out, to.Create(name, w));
  std::vector<uint8_t> buf(1 << 20);
  for (;;) {
    AURA_ASSIGN_OR_RETURN(size_t n, in->Read(buf));
    if (n == 0) break;
    AURA_RETURN_IF_ERROR(out->Append(std::span<const uint8_t>(buf.data(), n)));
  }
  return out->Commit();
}

// The manifest `name` (plaintext JSON) with its key id changed to `key`'s, staged in `scratch`
// under the same name. Returns the staged plaintext's trailer for verification.
Result<Trailer> StageManifest(Storage& repo, Storage& scratch, const std::string& name,
                              const Keyring& keys, const Key& key) {
  ObjectHeader h;
  AURA_ASSIGN_OR_RETURN(std::string text, GetSealedObject(repo, name, keys, &h));
  nlohmann::ordered_json body = nlohmann::ordered_json::parse(text, nullptr, false);
  nlohmann::ordered_json meta = nlohmann::ordered_json::parse(h.public_metadata, nullptr, false);
  if (!body.is_object() || !meta.is_object()) return Corruption(name + ": manifest is not JSON");
  if (body.contains("key_id")) body["key_id"] = key.IdHex();
  if (meta.contains("key_id")) meta["key_id"] = key.IdHex();
  ObjectSpec spec;
  spec.kind = h.kind;
  spec.name = name;
  spec.block_size = h.block_size;
  spec.compression = h.compression;
  spec.generation = h.generation;
  spec.first_position = h.first_position;
  spec.last_position = h.last_position;
  spec.created = FromUnixMicros(h.created_us);
  spec.public_metadata = meta.dump();
  const std::string out = body.dump();
  AURA_ASSIGN_OR_RETURN(ObjectSummary s, PutSealedObject(scratch, spec, AsBytes(out), &key, {}));
  return Trailer{s.chunk_count, s.plaintext_size, s.sha256};
}

struct RetireRun {
  Repository& repo;
  const RetireOptions& o;
  LocalStorage scratch;
  Keyring only_new;
  RetireReport report;
};

// Stages the re-sealed object in scratch and returns the trailer to verify against.
Result<Trailer> Stage(RetireRun& run, const std::string& name, bool manifest) {
  Storage& repo = run.repo.storage();
  const Key& key = *run.repo.write_key();
  if (manifest) return StageManifest(repo, run.scratch, name, run.repo.keyring(), key);
  AURA_ASSIGN_OR_RETURN(auto in, repo.Open(name));
  AURA_ASSIGN_OR_RETURN(ObjectHeader old_h, ReadObjectHeader(*in, name));
  if (old_h.name != name) {
    return Corruption(name + ": holds the object named '" + old_h.name + "' (swapped or renamed)");
  }
  const Key* old_key = run.repo.keyring().Find(old_h.key_id);
  if (old_key == nullptr) return KeyError(name + ": its key is not in the key file");
  AURA_ASSIGN_OR_RETURN(auto staged, run.scratch.Create(name, {}));
  AURA_ASSIGN_OR_RETURN(Trailer t, ResealChunks(*in, old_h, *old_key, key, *staged));
  AURA_RETURN_IF_ERROR(staged->Commit());
  return t;
}

// Puts the verified staged copy in place of the old object and verifies what the repository now
// holds; a read-back that fails is put and checked once more (the staged copy is known good).
Status Replace(RetireRun& run, const std::string& name, const Trailer& t) {
  Status s;
  for (int attempt = 0; attempt < 2; ++attempt) {
    AURA_RETURN_IF_ERROR(CopyObject(run.scratch, run.repo.storage(), name));
    s = VerifyObject(run.repo.storage(), name, run.only_new, t);
    if (s.ok()) return s;
    spdlog::warn("{}: read back after re-sealing failed ({}); putting it again", name, s.message());
  }
  return s.WithContext("read back after re-sealing");
}

// Steps 1 and 2 for one object: stage, verify the staged copy with only the new key, replace the
// old object with it, verify what the repository now holds. An object deleted since the listing
// is skipped.
Status ResealOne(RetireRun& run, const std::string& name, bool manifest) {
  auto t = Stage(run, name, manifest);
  if (t.status().code() == Code::kNotFound) return Status::Ok();
  if (!t.ok()) return t.status();
  auto staged_ok = VerifyObject(run.scratch, name, run.only_new, *t);
  if (!staged_ok.ok()) return staged_ok.WithContext("re-sealed copy (nothing replaced)");
  AURA_ASSIGN_OR_RETURN(ObjectInfo staged, run.scratch.Stat(name));
  AURA_RETURN_IF_ERROR(Replace(run, name, *t));
  (void)run.scratch.Delete(name);
  ++(manifest ? run.report.manifests_rewritten : run.report.resealed);
  ++run.report.old_removed;
  run.report.bytes += staged.size;
  spdlog::debug("re-sealed {} under key {}", name, run.repo.write_key()->IdHex());
  if (run.o.step_delay.count() > 0) std::this_thread::sleep_for(run.o.step_delay);
  return Status::Ok();
}

// The objects among `names` whose header names `retire`, split into data/segments and
// manifests. Counts the headers read in `examined`.
Status Select(Storage& storage, KeyId retire, const std::vector<std::string>& names,
              std::vector<std::string>& objects, std::vector<std::string>& manifests,
              uint64_t& examined) {
  for (const std::string& name : names) {
    auto h = ReadHeaderOf(storage, name);
    if (h.status().code() == Code::kNotFound) continue;  // deleted since the listing
    if (!h.ok()) return h.status();
    ++examined;
    if (h->cipher != Cipher::kAes256Gcm || h->key_id != retire) continue;
    (h->kind == ObjectKind::kManifest ? manifests : objects).push_back(name);
  }
  return Status::Ok();
}

std::string KeyHex(KeyId id) {
  uint8_t b[8];
  PutBE64(b, id);
  return HexEncode(b);
}

// Step 3: nothing in scope may still need the retired key.
Status CheckNothingLeft(RetireRun& run) {
  AURA_ASSIGN_OR_RETURN(std::vector<std::string> names,
                        ListObjects(run.repo.storage(), run.o.database));
  std::vector<std::string> objects, manifests;
  uint64_t examined = 0;
  AURA_RETURN_IF_ERROR(
      Select(run.repo.storage(), run.o.retire, names, objects, manifests, examined));
  objects.insert(objects.end(), manifests.begin(), manifests.end());
  if (objects.empty()) return Status::Ok();
  return Busy(std::to_string(objects.size()) + " object(s) sealed with key " +
              KeyHex(run.o.retire) + " appeared while retiring it (first: " + objects.front() +
              "): a writer still seals with that key; give it the key file whose last key is " +
              run.repo.write_key()->IdHex() + " (or stop it), then run key retire again");
}

}  // namespace

Result<KeyId> ParseKeyId(const std::string& hex) {
  auto bytes = HexDecode(hex);
  if (hex.size() != 16 || !bytes.ok() || bytes->size() != 8) {
    return InvalidArgument("'" + hex + "' is not a key id (16 hex digits, as 'aura-agent key " +
                           "generate' and 'key add' print it)");
  }
  return GetBE64(bytes->data());
}

Status CheckRetirable(const Keyring& keys, KeyId retire, const std::string& key_origin) {
  const std::string id = KeyHex(retire);
  if (keys.empty()) {
    return KeyError("key retire needs the key file that holds key " + id +
                    " and a newer key (--key-file)");
  }
  if (keys.Find(retire) == nullptr) {
    std::string held;
    for (const Key& k : keys.keys()) held += (held.empty() ? "" : ", ") + k.IdHex();
    return KeyError("key " + id + " is not in " + key_origin + " (it holds " + held +
                    "); nothing can be re-sealed without it");
  }
  if (keys.WriteKey().id == retire) {
    return KeyError("key " + id + " is the newest key in " + key_origin +
                    ": it seals new backups; add a newer key first (aura-agent key add --file "
                    "FILE), then retire " +
                    id);
  }
  return Status::Ok();
}

Result<RetireReport> RetireKey(Repository& repo, const RetireOptions& o) {
  AURA_RETURN_IF_ERROR(CheckRetirable(repo.keyring(), o.retire, "the key file"));
  RetireRun run{repo, o, LocalStorage(o.scratch_dir), Keyring({*repo.write_key()}), {}};
  AURA_ASSIGN_OR_RETURN(std::vector<std::string> names, ListObjects(repo.storage(), o.database));
  std::vector<std::string> objects, manifests;
  AURA_RETURN_IF_ERROR(
      Select(repo.storage(), o.retire, names, objects, manifests, run.report.examined));
  for (const std::string& name : objects) AURA_RETURN_IF_ERROR(ResealOne(run, name, false));
  for (const std::string& name : manifests) AURA_RETURN_IF_ERROR(ResealOne(run, name, true));
  AURA_RETURN_IF_ERROR(CheckNothingLeft(run));
  return run.report;
}

Status RemoveKeyFromFile(const std::string& path, KeyId id) {
  AURA_ASSIGN_OR_RETURN(Keyring ring, Keyring::LoadFile(path));
  std::vector<Key> keep;
  for (const Key& k : ring.keys()) {
    if (k.id != id) keep.push_back(k);
  }
  if (keep.size() == ring.keys().size()) {
    return KeyError(path + " does not hold key " + KeyHex(id));
  }
  if (keep.empty()) return KeyError(path + " holds no key but " + KeyHex(id));
  std::string text = FormatKeyFile(keep);
  WipeOnExit wipe_text(text);
  AURA_RETURN_IF_ERROR(WriteFileAtomic(path, text, 0600));
  return platform::RestrictToOwner(path);
}

}  // namespace aura::backup
