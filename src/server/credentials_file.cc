#include "server/credentials_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace thumbpipe::server {
namespace {

Result<std::string> RandomString(size_t length, std::string_view alphabet) {
  std::ifstream urandom("/dev/urandom", std::ios::binary);
  std::string out;
  while (out.size() < length) {
    unsigned char byte = 0;
    if (!urandom.read(reinterpret_cast<char*>(&byte), 1)) return Status::IOError("cannot read /dev/urandom");
    // Rejection sampling keeps every character equally likely.
    const size_t limit = 256 - 256 % alphabet.size();
    if (byte < limit) out += alphabet[byte % alphabet.size()];
  }
  return out;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return std::string(s);
}

Result<StoredCredentials> Read(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return Status::IOError("cannot read " + path.string());
  StoredCredentials out;
  out.path = path;
  std::string line;
  while (std::getline(in, line)) {
    const size_t eq = line.find('=');
    if (line.starts_with("#") || eq == std::string::npos) continue;
    const std::string name = Trim(std::string_view(line).substr(0, eq));
    const std::string value = Trim(std::string_view(line).substr(eq + 1));
    if (name == "aws_access_key_id") out.credential.access_key = value;
    if (name == "aws_secret_access_key") out.credential.secret_key = value;
  }
  if (out.credential.access_key.empty() || out.credential.secret_key.empty()) {
    return Status::Corrupt(path.string() + " has no aws_access_key_id / aws_secret_access_key; delete it to make a new key");
  }
  out.credential.admin = true;
  out.credential.buckets = {"*"};
  out.credential.access = config::Access::kReadWrite;
  return out;
}

Status WriteFile0600(const std::filesystem::path& path, const std::string& text) {
  const std::filesystem::path tmp = path.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("cannot create " + tmp.string() + ": " + std::strerror(errno));
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return Status::IOError("cannot write " + path.string() + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

}  // namespace

Result<StoredCredentials> LoadOrCreateCredentials(const std::filesystem::path& data_dir) {
  const std::filesystem::path path = data_dir / "credentials";
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) return Read(path);

  THUMBPIPE_ASSIGN_OR_RETURN(std::string key_tail, RandomString(18, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"));
  THUMBPIPE_ASSIGN_OR_RETURN(std::string secret,
                             RandomString(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"));
  std::ostringstream text;
  text << "# thumbpipe S3 API key, generated on first start (admin, every bucket). Use it with\n"
       << "#   AWS_SHARED_CREDENTIALS_FILE=" << path.string() << " AWS_PROFILE=" << kCredentialsProfile
       << " aws --endpoint-url URL s3 ls\n"
       << "[" << kCredentialsProfile << "]\n"
       << "aws_access_key_id = TP" << key_tail << "\n"
       << "aws_secret_access_key = " << secret << "\n";
  std::filesystem::create_directories(data_dir, ec);
  THUMBPIPE_RETURN_IF_ERROR(WriteFile0600(path, text.str()));
  THUMBPIPE_ASSIGN_OR_RETURN(StoredCredentials stored, Read(path));
  stored.created = true;
  return stored;
}

}  // namespace thumbpipe::server
