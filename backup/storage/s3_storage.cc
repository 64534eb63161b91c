#include "backup/storage/s3_storage.h"

#include <openssl/evp.h>

#include <algorithm>
#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#include <charconv>
#include <deque>
#include <future>
#include <sstream>

#include "backup/storage/s3_xml.h"
#include "common/clock.h"
#include "common/hashing.h"

namespace aura::backup {

namespace pt = boost::property_tree;

namespace {

constexpr uint64_t kReadChunk = 8u << 20;

std::string Md5Base64(std::span<const uint8_t> data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_md5(), nullptr);
  return Base64Encode(std::span<const uint8_t>(md, len));
}

// Headers every write carries: storage class and Object Lock (with the MD5 S3 then requires).
void AddWriteHeaders(const S3Config& c, std::span<const uint8_t> body, bool with_md5,
                     std::vector<std::pair<std::string, std::string>>& h) {
  if (!c.storage_class.empty()) h.emplace_back("x-amz-storage-class", c.storage_class);
  if (!c.object_lock_mode.empty()) {
    auto until = SystemClock::Instance().Now() + std::chrono::hours(24) * c.object_lock_days;
    h.emplace_back("x-amz-object-lock-mode", c.object_lock_mode);
    h.emplace_back("x-amz-object-lock-retain-until-date", FormatRfc3339(until, 0));
  }
  if (with_md5 && !c.object_lock_mode.empty()) h.emplace_back("content-md5", Md5Base64(body));
}

class S3ObjectWriter final : public ObjectWriter {
 public:
  S3ObjectWriter(std::shared_ptr<S3Client> client, std::string key, WriteOptions options)
      : client_(std::move(client)), key_(std::move(key)), options_(options) {}
  ~S3ObjectWriter() override { Abort(); }

  Status Append(std::span<const uint8_t> data) override {
    if (done_) return InternalError("append after commit or abort");
    if (!error_.ok()) return error_;
    const uint64_t part = client_->config().part_size;
    written_ += data.size();
    while (!data.empty()) {
      size_t take = static_cast<size_t>(std::min<uint64_t>(part - buf_.size(), data.size()));
      buf_.insert(buf_.end(), data.begin(), data.begin() + static_cast<long>(take));
      data = data.subspan(take);
      if (buf_.size() == part) AURA_RETURN_IF_ERROR(SendPart());
    }
    return Status::Ok();
  }

  Status Commit() override {
    if (done_) return InternalError("commit after commit or abort");
    Status s = upload_id_.empty() ? PutWhole() : CompleteMultipart();
    done_ = s.ok();
    if (!s.ok()) Abort();
    return s;
  }

  void Abort() override {
    if (done_) return;
    done_ = true;
    for (auto& f : inflight_) f.wait();
    if (!upload_id_.empty()) {
      S3Request r;
      r.method = "DELETE";
      r.key = key_;
      r.query = {{"uploadId", upload_id_}};
      (void)client_->Send(r, {404});
    }
  }

  uint64_t bytes_written() const override { return written_; }

 private:
  Status PutWhole() {
    S3Request r;
    r.method = "PUT";
    r.key = key_;
    r.body = buf_;
    if (options_.no_overwrite) r.headers.emplace_back("if-none-match", "*");
    AddWriteHeaders(client_->config(), buf_, true, r.headers);
    return client_->Send(r).status();
  }

  Status StartMultipart() {
    S3Request r;
    r.method = "POST";
    r.key = key_;
    r.query = {{"uploads", ""}};
    AddWriteHeaders(client_->config(), {}, false, r.headers);
    AURA_ASSIGN_OR_RETURN(S3Response resp, client_->Send(r));
    AURA_ASSIGN_OR_RETURN(upload_id_, ParseUploadId(resp.body, key_));
    return Status::Ok();
  }

  // Sends the buffered bytes as the next part, keeping at most upload_concurrency in flight.
  Status SendPart() {
    if (upload_id_.empty()) AURA_RETURN_IF_ERROR(StartMultipart());
    int number = 0;
    {
      // Under the lock: a part's thread may be storing its ETag while this one grows the vector
      // (a data race ThreadSanitizer found: the store could land in the freed old buffer).
      std::lock_guard<std::mutex> lock(mu_);
      number = static_cast<int>(etags_.size()) + 1;
      etags_.emplace_back();
    }
    auto body = std::make_shared<std::vector<uint8_t>>(std::move(buf_));
    buf_ = std::vector<uint8_t>();
    buf_.reserve(client_->config().part_size);
    inflight_.push_back(std::async(std::launch::async, [this, body, number]() -> Status {
      S3Request r;
      r.method = "PUT";
      r.key = key_;
      r.body = *body;
      r.query = {{"partNumber", std::to_string(number)}, {"uploadId", upload_id_}};
      if (!client_->config().object_lock_mode.empty()) {
        r.headers.emplace_back("content-md5", Md5Base64(*body));
      }
      AURA_ASSIGN_OR_RETURN(S3Response resp, client_->Send(r));
      std::lock_guard<std::mutex> lock(mu_);
      etags_[number - 1] = resp.headers["etag"];
      return Status::Ok();
    }));
    return WaitForRoom(client_->config().upload_concurrency);
  }

  // Waits until fewer than `max_inflight` parts are in flight (1: all done).
  Status WaitForRoom(size_t max_inflight) {
    while (!inflight_.empty() && inflight_.size() >= max_inflight) {
      Status s = inflight_.front().get();
      inflight_.pop_front();
      if (!s.ok() && error_.ok()) error_ = s;
    }
    return error_;
  }

  Status CompleteMultipart() {
    if (!buf_.empty()) AURA_RETURN_IF_ERROR(SendPart());
    AURA_RETURN_IF_ERROR(WaitForRoom(1));  // every part sent
    AURA_RETURN_IF_ERROR(error_);
    if (options_.no_overwrite) {
      S3Request head;
      head.method = "HEAD";
      head.key = key_;
      AURA_ASSIGN_OR_RETURN(S3Response h, client_->Send(head, {404}));
      if (h.status != 404) return AlreadyExists(key_ + " already exists");
    }
    std::string xml = "<CompleteMultipartUpload>";
    for (size_t i = 0; i < etags_.size(); ++i) {
      xml += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" + etags_[i] +
             "</ETag></Part>";
    }
    xml += "</CompleteMultipartUpload>";
    S3Request r;
    r.method = "POST";
    r.key = key_;
    r.query = {{"uploadId", upload_id_}};
    r.headers = {{"content-type", "application/xml"}};
    r.body = AsBytes(xml);
    AURA_ASSIGN_OR_RETURN(S3Response resp, client_->Send(r));
    // S3 can answer 200 with an error document in the body.
    if (resp.body.find("<Error>") != std::string::npos) {
      return IOError("S3 could not complete the upload of " + key_ + ": " + resp.body);
    }
    upload_id_.clear();
    return Status::Ok();
  }

  std::shared_ptr<S3Client> client_;
  std::string key_;
  WriteOptions options_;
  std::vector<uint8_t> buf_;
  std::string upload_id_;
  std::mutex mu_;
  std::vector<std::string> etags_;
  std::deque<std::future<Status>> inflight_;
  Status error_;
  bool done_ = false;
  uint64_t written_ = 0;
};

class S3ObjectReader final : public ObjectReader {
 public:
  // Reads [pos, end); `first` is what a GET already fetched from `pos` on.
  S3ObjectReader(std::shared_ptr<S3Client> client, std::string key, uint64_t pos, uint64_t end,
                 std::string first = {})
      : client_(std::move(client)),
        key_(std::move(key)),
        pos_(pos + first.size()),
        end_(end),
        buf_(std::move(first)) {}

  Result<size_t> Read(std::span<uint8_t> out) override {
    if (off_ == buf_.size()) {
      if (pos_ >= end_) return size_t{0};
      uint64_t last = std::min(end_, pos_ + kReadChunk) - 1;
      S3Request r;
      r.key = key_;
      r.headers = {{"range", "bytes=" + std::to_string(pos_) + "-" + std::to_string(last)}};
      AURA_ASSIGN_OR_RETURN(S3Response resp, client_->Send(r));
      if (resp.body.size() != last - pos_ + 1) {
        return IOError("S3 returned " + std::to_string(resp.body.size()) +
                       " bytes for a range of " + std::to_string(last - pos_ + 1) + " in " + key_);
      }
      buf_ = std::move(resp.body);
      off_ = 0;
      pos_ = last + 1;
    }
    size_t n = std::min(out.size(), buf_.size() - off_);
    std::memcpy(out.data(), buf_.data() + off_, n);
    off_ += n;
    return n;
  }

 private:
  std::shared_ptr<S3Client> client_;
  std::string key_;
  uint64_t pos_, end_;
  std::string buf_;
  size_t off_ = 0;
};

}  // namespace

S3Storage::S3Storage(S3Config config) : client_(std::make_shared<S3Client>(std::move(config))) {}

std::string S3Storage::Key(const std::string& name) const {
  const std::string& p = client_->config().prefix;
  return p.empty() ? name : p + "/" + name;
}

Result<std::unique_ptr<ObjectWriter>> S3Storage::Create(const std::string& name,
                                                        const WriteOptions& options) {
  AURA_RETURN_IF_ERROR(ValidateObjectName(name));
  return std::unique_ptr<ObjectWriter>(
      std::make_unique<S3ObjectWriter>(client_, Key(name), options));
}

Result<ObjectInfo> S3Storage::Stat(const std::string& name) {
  AURA_RETURN_IF_ERROR(ValidateObjectName(name));
  S3Request r;
  r.method = "HEAD";
  r.key = Key(name);
  AURA_ASSIGN_OR_RETURN(S3Response resp, client_->Send(r));
  ObjectInfo info{name, 0, {}};
  info.size =
      std::stoull(resp.headers.count("content-length") ? resp.headers["content-length"] : "0");
  return info;
}

Result<std::unique_ptr<ObjectReader>> S3Storage::Open(const std::string& name, uint64_t offset,
                                                      uint64_t length) {
  AURA_RETURN_IF_ERROR(ValidateObjectName(name));
  if (length == 0) {  // nothing to read: only whether it exists
    AURA_RETURN_IF_ERROR(Stat(name).status());
    return std::unique_ptr<ObjectReader>(
        std::make_unique<S3ObjectReader>(client_, Key(name), offset, offset));
  }
  // The first chunk at once, without a HEAD first: its Content-Range ("bytes a-b/SIZE") says
  // how large the object is (issue 13: every read was a HEAD and a GET).
  const uint64_t last = offset + std::min(length, kReadChunk) - 1;
  S3Request r;
  r.key = Key(name);
  r.headers = {{"range", "bytes=" + std::to_string(offset) + "-" + std::to_string(last)}};
  AURA_ASSIGN_OR_RETURN(S3Response resp, client_->Send(r, {416}));
  if (resp.status == 416) {  // at or past the end (an empty object included): nothing to read
    return std::unique_ptr<ObjectReader>(
        std::make_unique<S3ObjectReader>(client_, Key(name), offset, offset));
  }
  uint64_t size = resp.body.size();  // a 200: the server ignored the range and sent it all
  if (resp.status == 206) {
    const std::string& range = resp.headers["content-range"];
    const size_t slash = range.rfind('/');
    const char* digits = range.data() + (slash == std::string::npos ? range.size() : slash + 1);
    auto [end_of_number, err] = std::from_chars(digits, range.data() + range.size(), size);
    if (slash == std::string::npos || err != std::errc() ||
        end_of_number != range.data() + range.size()) {
      return IOError("S3 answered a ranged GET of " + r.key + " without the object's size (" +
                     "Content-Range: '" + range + "')");
    }
  } else if (offset > 0) {
    resp.body.erase(0, std::min<uint64_t>(offset, resp.body.size()));
  }
  const uint64_t start = std::min(offset, size);
  const uint64_t end = length >= size - start ? size : start + length;
  if (resp.body.size() > end - start) resp.body.resize(end - start);
  return std::unique_ptr<ObjectReader>(
      std::make_unique<S3ObjectReader>(client_, Key(name), start, end, std::move(resp.body)));
}

Result<std::vector<ObjectInfo>> S3Storage::List(const std::string& prefix) {
  const std::string& p = client_->config().prefix;
  const std::string strip = p.empty() ? "" : p + "/";
  std::vector<ObjectInfo> out;
  std::string token;
  const std::string full = strip + prefix;
  const std::string sent =
      client_->config().list_top_prefix_only ? full.substr(0, full.find('/')) : full;
  do {
    S3Request r;
    r.query = {{"list-type", "2"}, {"prefix", sent}, {"encoding-type", "url"}};
    if (!token.empty()) r.query.emplace_back("continuation-token", token);
    AURA_ASSIGN_OR_RETURN(S3Response resp, client_->Send(r));
    AURA_ASSIGN_OR_RETURN(S3ListPage page, ParseListObjectsPage(resp.body));
    for (S3ListedObject& o : page.objects) {
      if (o.key.compare(0, full.size(), full) != 0) continue;
      std::string name = o.key.substr(strip.size());
      if (!KeepListedName(name, Describe())) continue;
      out.push_back({std::move(name), o.size, o.modified});
    }
    token = std::move(page.next_token);
  } while (!token.empty());
  std::sort(out.begin(), out.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.name < b.name; });
  return out;
}

Status S3Storage::Delete(const std::string& name) {
  AURA_RETURN_IF_ERROR(ValidateObjectName(name));
  S3Request r;
  r.method = "DELETE";
  r.key = Key(name);
  return client_->Send(r, {404}).status();
}

Status S3Storage::DeleteMany(const std::vector<std::string>& names) {
  for (const std::string& n : names) AURA_RETURN_IF_ERROR(ValidateObjectName(n));
  for (size_t i = 0; i < names.size(); i += 1000) {
    std::string xml = "<Delete><Quiet>true</Quiet>";
    for (size_t j = i; j < std::min(names.size(), i + 1000); ++j) {
      std::string k = Key(names[j]);
      std::ostringstream esc;
      pt::ptree leaf;
      leaf.put("Key", k);
      pt::write_xml(esc, leaf);
      std::string e = esc.str();
      e = e.substr(e.find("<Key>"));
      xml += "<Object>" + e + "</Object>";
    }
    xml += "</Delete>";
    S3Request r;
    r.method = "POST";
    r.query = {{"delete", ""}};
    r.body = AsBytes(xml);
    r.headers = {{"content-type", "application/xml"}, {"content-md5", Md5Base64(AsBytes(xml))}};
    AURA_ASSIGN_OR_RETURN(S3Response resp, client_->Send(r));
    if (resp.body.find("<Error>") != std::string::npos) {
      return IOError("S3 could not delete some objects: " + resp.body.substr(0, 500));
    }
  }
  return Status::Ok();
}

Result<int> S3Storage::RemoveAbandonedWrites(std::chrono::seconds older_than,
                                             const std::string& under) {
  const std::string& p = client_->config().prefix;
  S3Request r;
  std::string full = p.empty() ? "" : p + "/";
  if (!under.empty()) full += under.back() == '/' ? under : under + "/";
  r.query = {
      {"uploads", ""},
      {"prefix", client_->config().list_top_prefix_only ? full.substr(0, full.find('/')) : full}};
  AURA_ASSIGN_OR_RETURN(S3Response resp, client_->Send(r));
  AURA_ASSIGN_OR_RETURN(std::vector<S3ListedUpload> uploads, ParseMultipartUploads(resp.body));
  int aborted = 0;
  const TimePoint cutoff = SystemClock::Instance().Now() - older_than;
  for (const S3ListedUpload& u : uploads) {
    // A listing by the top prefix only (list_top_prefix_only) also shows other prefixes' uploads.
    if (u.key.compare(0, full.size(), full) != 0) continue;
    if (!u.initiated_known || u.initiated > cutoff) continue;
    S3Request del;
    del.method = "DELETE";
    del.key = u.key;
    del.query = {{"uploadId", u.upload_id}};
    AURA_RETURN_IF_ERROR(client_->Send(del, {404}).status());
    ++aborted;
  }
  return aborted;
}

}  // namespace aura::backup
