// The object codec: round trips, and every way an object can be damaged is detected.
#include "backup/object_codec.h"

#include <gtest/gtest.h>

#include "backup/storage/local_storage.h"
#include "common/bytes.h"
#include "tests/support/test_env.h"

namespace aura::backup {
namespace {

using aura::testing::TempDir;

std::vector<uint8_t> Compressible(size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    v[i] = (i % 7 == 0) ? static_cast<uint8_t>(x >> 24) : static_cast<uint8_t>('a' + i % 23);
  }
  return v;
}

class CodecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage_ = std::make_shared<LocalStorage>(dir_ / "repo");
    key_ = *GenerateKey();
    keys_ = Keyring({key_});
  }

  // Encodes `data` as object `name` and returns the object's stored bytes.
  std::string Encode(const std::string& name, const std::vector<uint8_t>& data, const Key* key,
                     uint32_t block = 4096, Compression c = Compression::kZstd, int threads = 2) {
    ObjectSpec spec;
    spec.name = name;
    spec.block_size = block;
    spec.compression = c;
    spec.public_metadata = R"({"hello":"world"})";
    auto w = storage_->Create(name, {});
    EXPECT_TRUE(w.ok());
    auto e = ObjectEncoder::Start(w->get(), spec, key, threads);
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    // Uneven writes exercise the block buffering.
    for (size_t off = 0; off < data.size(); off += 3001) {
      size_t n = std::min<size_t>(3001, data.size() - off);
      EXPECT_TRUE((*e)->Write({data.data() + off, n}).ok());
    }
    auto summary = (*e)->Finish();
    EXPECT_TRUE(summary.ok()) << summary.status().ToString();
    EXPECT_EQ(summary->sha256, Sha256::Of(data));
    EXPECT_TRUE((*w)->Commit().ok());
    return *GetObject(*storage_, name, 1 << 30);
  }

  // Decodes object bytes stored under `name`; returns plaintext or the error.
  Result<std::string> Decode(const std::string& name, const std::string& bytes, const Keyring& keys,
                             int threads = 2) {
    Status s = PutObject(*storage_, name, AsBytes(bytes));
    if (!s.ok()) return s;
    AURA_ASSIGN_OR_RETURN(auto reader, storage_->Open(name, 0, kToEnd));
    AURA_ASSIGN_OR_RETURN(auto d, ObjectDecoder::Open(std::move(reader), keys, name, threads));
    std::string out;
    AURA_RETURN_IF_ERROR(d->ReadAll([&](std::span<const uint8_t> p) {
                            out.append(reinterpret_cast<const char*>(p.data()), p.size());
                            return Status::Ok();
                          }).status());
    return out;
  }

  TempDir dir_;
  std::shared_ptr<LocalStorage> storage_;
  Key key_;
  Keyring keys_;
};

TEST_F(CodecTest, RoundTripsEverySizeEncryptedAndNot) {
  for (size_t n : {size_t{0}, size_t{1}, size_t{4095}, size_t{4096}, size_t{4097}, size_t{22600}}) {
    auto data = Compressible(n, static_cast<uint32_t>(n));
    for (const Key* k : {static_cast<const Key*>(&key_), static_cast<const Key*>(nullptr)}) {
      std::string obj = Encode("o", data, k);
      auto got = Decode("o", obj, keys_);
      ASSERT_TRUE(got.ok()) << n << ": " << got.status().ToString();
      EXPECT_EQ(*got, std::string(data.begin(), data.end())) << n;
    }
  }
}

TEST_F(CodecTest, UncompressedAndMultiThreadedDecodeAgree) {
  auto data = Compressible(200000, 7);
  std::string obj = Encode("o", data, &key_, 8192, Compression::kNone, 3);
  for (int threads : {1, 4}) {
    auto got = Decode("o", obj, keys_, threads);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(*got, std::string(data.begin(), data.end()));
  }
}

TEST_F(CodecTest, CiphertextDoesNotContainThePlaintext) {
  std::vector<uint8_t> data(50000, 'Q');
  std::string obj = Encode("o", data, &key_, 4096, Compression::kNone);
  EXPECT_EQ(obj.find(std::string(64, 'Q')), std::string::npos);
}

TEST_F(CodecTest, WrongKeyIsAKeyErrorNotCorruption) {
  std::string obj = Encode("o", Compressible(10000, 1), &key_);
  Keyring other({*GenerateKey()});
  auto got = Decode("o", obj, other);
  EXPECT_EQ(got.status().code(), Code::kKeyError) << got.status().ToString();
  EXPECT_NE(got.status().message().find(key_.IdHex()), std::string::npos);
}

TEST_F(CodecTest, MissingKeyIsAKeyError) {
  std::string obj = Encode("o", Compressible(10000, 1), &key_);
  auto got = Decode("o", obj, Keyring());
  EXPECT_EQ(got.status().code(), Code::kKeyError);
}

TEST_F(CodecTest, RotatedKeyringReadsOldObjects) {
  std::string obj = Encode("o", Compressible(10000, 1), &key_);
  Keyring rotated({key_, *GenerateKey()});
  EXPECT_NE(rotated.WriteKey().id, key_.id);
  EXPECT_TRUE(Decode("o", obj, rotated).ok());
}

TEST_F(CodecTest, EveryFlippedByteIsDetected) {
  for (const Key* k : {static_cast<const Key*>(&key_), static_cast<const Key*>(nullptr)}) {
    std::string obj = Encode("o", Compressible(30000, 3), k);
    for (size_t i = 0; i < obj.size(); i += (i < 300 ? 1 : 37)) {
      std::string bad = obj;
      bad[i] = static_cast<char>(bad[i] ^ 0x04);
      auto got = Decode("o", bad, keys_);
      ASSERT_FALSE(got.ok()) << "flip at " << i << " of " << obj.size() << " went unnoticed";
      Code c = got.status().code();
      EXPECT_TRUE(c == Code::kCorruption || c == Code::kUnsupported || c == Code::kKeyError)
          << i << ": " << got.status().ToString();
    }
  }
}

TEST_F(CodecTest, EveryTruncationIsDetected) {
  std::string obj = Encode("o", Compressible(30000, 4), &key_);
  for (size_t len = 0; len < obj.size(); len += (len < 200 ? 1 : 53)) {
    auto got = Decode("o", obj.substr(0, len), keys_);
    ASSERT_FALSE(got.ok()) << "truncation to " << len << " went unnoticed";
    EXPECT_EQ(got.status().code(), Code::kCorruption) << got.status().ToString();
  }
  auto got = Decode("o", obj.substr(0, obj.size() - 1), keys_);
  EXPECT_EQ(got.status().code(), Code::kCorruption);
}

TEST_F(CodecTest, BytesAfterTheFinalChunkAreDetected) {
  std::string obj = Encode("o", Compressible(10000, 5), &key_);
  auto got = Decode("o", obj + "x", keys_);
  EXPECT_EQ(got.status().code(), Code::kCorruption);
}

TEST_F(CodecTest, SwappedObjectIsDetected) {
  std::string obj = Encode("db/a.data", Compressible(10000, 6), &key_);
  auto got = Decode("db/b.data", obj, keys_);
  EXPECT_EQ(got.status().code(), Code::kCorruption);
  EXPECT_NE(got.status().message().find("swapped"), std::string::npos);
}

TEST_F(CodecTest, ReorderedChunksAreDetected) {
  // Uncompressed 4 KiB blocks make every data chunk the same length, so two can be swapped.
  auto data = Compressible(4096 * 4, 8);
  std::string obj = Encode("o", data, &key_, 4096, Compression::kNone);
  auto header_len = HeaderLength(AsBytes(obj));
  ASSERT_TRUE(header_len.ok());
  size_t chunk = 4 + 4096 + kTagSize;
  std::string bad = obj;
  bad.replace(*header_len, chunk, obj.substr(*header_len + chunk, chunk));
  bad.replace(*header_len + chunk, chunk, obj.substr(*header_len, chunk));
  auto got = Decode("o", bad, keys_);
  EXPECT_EQ(got.status().code(), Code::kCorruption);
}

TEST_F(CodecTest, UnknownFormatVersionIsUnsupported) {
  std::string obj = Encode("o", Compressible(1000, 9), &key_);
  obj[8] = 2;  // version field
  auto got = Decode("o", obj, keys_);
  EXPECT_EQ(got.status().code(), Code::kUnsupported);
  EXPECT_NE(got.status().message().find("upgrade"), std::string::npos);
}

TEST_F(CodecTest, HeaderIsReadableWithoutTheKey) {
  std::string obj = Encode("o", Compressible(1000, 10), &key_);
  ASSERT_TRUE(PutObject(*storage_, "o", AsBytes(obj)).ok());
  auto reader = storage_->Open("o", 0, kToEnd);
  ASSERT_TRUE(reader.ok());
  auto h = ReadObjectHeader(**reader, "o");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->public_metadata, R"({"hello":"world"})");
  EXPECT_EQ(h->key_id, key_.id);
  EXPECT_EQ(h->cipher, Cipher::kAes256Gcm);
}

}  // namespace
}  // namespace aura::backup
