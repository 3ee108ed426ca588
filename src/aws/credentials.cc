#include "aws/credentials.h"

#include <cstdlib>
#include <fstream>
#include <vector>

namespace thumbpipe::aws {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::optional<std::string> Find(const IniSection& section, std::string_view key) {
  for (const auto& [k, v] : section) {
    if (k == key) return v;
  }
  return std::nullopt;
}

std::optional<std::string> NonEmpty(const EnvLookup& env, std::string_view name) {
  auto v = env(name);
  if (v && v->empty()) return std::nullopt;
  return v;
}

// The shared file paths, with AWS's overrides and "~" expanded from HOME.
std::string SharedPath(const EnvLookup& env, std::string_view override_var, std::string_view leaf) {
  if (auto p = NonEmpty(env, override_var)) {
    if (p->starts_with("~/")) return NonEmpty(env, "HOME").value_or("") + p->substr(1);
    return *p;
  }
  return NonEmpty(env, "HOME").value_or("") + "/.aws/" + std::string(leaf);
}

std::string ProfileName(const EnvLookup& env) {
  if (auto p = NonEmpty(env, "AWS_PROFILE")) return *p;
  if (auto p = NonEmpty(env, "AWS_DEFAULT_PROFILE")) return *p;
  return "default";
}

// Keys from one INI section: nullopt when it has none, an error for half a pair.
Result<std::optional<sigv4::Credentials>> KeysFrom(const IniSection& section, const std::string& where) {
  auto ak = Find(section, "aws_access_key_id");
  auto sk = Find(section, "aws_secret_access_key");
  if (!ak && !sk) return std::optional<sigv4::Credentials>{};
  if (!ak || !sk || ak->empty() || sk->empty()) {
    return Status::InvalidArgument(where + " has aws_access_key_id or aws_secret_access_key without the other");
  }
  sigv4::Credentials c{*ak, *sk, std::nullopt};
  if (auto token = Find(section, "aws_session_token"); token && !token->empty()) c.session_token = *token;
  return std::optional<sigv4::Credentials>(std::move(c));
}

}  // namespace

EnvLookup ProcessEnv() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

std::optional<IniSection> ReadIniSection(const std::string& path, std::string_view section) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::optional<IniSection> found;
  bool inside = false;
  std::string line;
  while (std::getline(in, line)) {
    std::string_view l = Trim(line);
    if (l.empty() || l.front() == '#' || l.front() == ';') continue;
    if (l.front() == '[') {
      const size_t close = l.find(']');
      const std::string_view name = Trim(l.substr(1, close == std::string_view::npos ? l.size() - 1 : close - 1));
      inside = name == section;
      if (inside && !found) found.emplace();
      continue;
    }
    if (!inside) continue;
    const size_t eq = l.find('=');
    if (eq == std::string_view::npos) continue;  // nested (s3 = ...) blocks' lines, etc.
    found->emplace_back(std::string(Trim(l.substr(0, eq))), std::string(Trim(l.substr(eq + 1))));
  }
  return found;
}

Result<ResolvedCredentials> ResolveCredentials(const EnvLookup& env,
                                               const std::optional<sigv4::Credentials>& fallback) {
  auto ak = NonEmpty(env, "AWS_ACCESS_KEY_ID");
  auto sk = NonEmpty(env, "AWS_SECRET_ACCESS_KEY");
  if (ak || sk) {
    if (!ak || !sk) {
      return Status::InvalidArgument("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together");
    }
    ResolvedCredentials r{{*ak, *sk, NonEmpty(env, "AWS_SESSION_TOKEN")}, "environment"};
    return r;
  }
  const std::string profile = ProfileName(env);
  const std::string credentials_file = SharedPath(env, "AWS_SHARED_CREDENTIALS_FILE", "credentials");
  const std::string config_file = SharedPath(env, "AWS_CONFIG_FILE", "config");
  if (auto section = ReadIniSection(credentials_file, profile)) {
    const std::string where = credentials_file + " [" + profile + "]";
    THUMBPIPE_ASSIGN_OR_RETURN(auto keys, KeysFrom(*section, where));
    if (keys) return ResolvedCredentials{std::move(*keys), where};
  }
  const std::string config_section = profile == "default" ? "default" : "profile " + profile;
  if (auto section = ReadIniSection(config_file, config_section)) {
    const std::string where = config_file + " [" + config_section + "]";
    THUMBPIPE_ASSIGN_OR_RETURN(auto keys, KeysFrom(*section, where));
    if (keys) return ResolvedCredentials{std::move(*keys), where};
  }
  if (fallback) return ResolvedCredentials{*fallback, "thumbpipe config file"};
  return Status::NotFound("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or put profile \"" +
                          profile + "\" in " + credentials_file + " or " + config_file +
                          ", or add a [[credentials]] entry to the thumbpipe config file");
}

std::optional<std::string> ResolveRegion(const EnvLookup& env) {
  if (auto r = NonEmpty(env, "AWS_REGION")) return r;
  if (auto r = NonEmpty(env, "AWS_DEFAULT_REGION")) return r;
  const std::string profile = ProfileName(env);
  const std::string section = profile == "default" ? "default" : "profile " + profile;
  if (auto s = ReadIniSection(SharedPath(env, "AWS_CONFIG_FILE", "config"), section)) {
    if (auto r = Find(*s, "region"); r && !r->empty()) return r;
  }
  return std::nullopt;
}

}  // namespace thumbpipe::aws
