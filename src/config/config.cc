// Reading a Config: TOML structure and values (toml++), then environment overrides, per key in
// table order. toml++ is included here only, and its exceptions end here.
#include "config/config.h"

#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>
#include <sstream>

#include "config/checks.h"
#include "config/keys.h"

extern char** environ;

namespace thumbpipe::config {
namespace {

constexpr std::string_view kEnvPrefix = "THUMBPIPE_";
constexpr std::string_view kDataDirPlaceholder = "{data_dir}";

std::string Quoted(std::string_view text) { return "\"" + std::string(text) + "\""; }

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// What was found where something else was expected: "a string \"many\"", "a table".
std::string Describe(const toml::node& node) {
  if (const auto* s = node.as_string()) return "a string " + QuoteToml(s->get());
  if (const auto* i = node.as_integer()) return "an integer " + std::to_string(i->get());
  if (const auto* b = node.as_boolean())
    return std::string("a boolean ") + (b->get() ? "true" : "false");
  if (const auto* f = node.as_floating_point()) {
    std::ostringstream os;
    os << f->get();
    return "a floating-point number " + os.str();
  }
  switch (node.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    default:
      return "a value";
  }
}

Result<Value> ToValue(const toml::node& node, Kind kind) {
  auto mismatch = [&] {
    return Status::InvalidArgument("expected " + std::string(KindName(kind)) + ", found " +
                                   Describe(node));
  };
  switch (kind) {
    case Kind::kBool:
      if (const auto* b = node.as_boolean()) return Value{b->get()};
      return mismatch();
    case Kind::kInt:
      if (const auto* i = node.as_integer()) return Value{i->get()};
      return mismatch();
    case Kind::kString:
      if (const auto* s = node.as_string()) return Value{s->get()};
      return mismatch();
    case Kind::kDuration: {
      const auto* s = node.as_string();
      if (s == nullptr) return mismatch();
      Result<Duration> d = ParseDuration(s->get());
      if (!d.ok()) return d.status();
      return Value{*d};
    }
    case Kind::kStringList: {
      const auto* array = node.as_array();
      if (array == nullptr) return mismatch();
      std::vector<std::string> items;
      for (size_t i = 0; i < array->size(); ++i) {
        const auto* s = (*array)[i].as_string();
        if (s == nullptr) {
          return Status::InvalidArgument("expected an array of strings, found " +
                                         Describe((*array)[i]) + " at index " + std::to_string(i));
        }
        items.push_back(s->get());
      }
      return Value{std::move(items)};
    }
  }
  return mismatch();
}

// Turns toml++'s tree into a Config; knows where each node was written.
class Reader {
 public:
  explicit Reader(std::string_view source_name) : source_name_(source_name) {}

  // "thumbpipe.toml:12:5: ", or "" when toml++ recorded no position.
  std::string Where(const toml::source_region& region) const {
    if (!region.begin) return "";
    const std::string name = region.path ? *region.path : source_name_;
    const std::string line = std::to_string(region.begin.line);
    const std::string column = std::to_string(region.begin.column);
    if (name.empty()) return "line " + line + ", column " + column + ": ";
    return name + ":" + line + ":" + column + ": ";
  }

  // Reads `node` as the value of `spec` into `target`; errors name `path` and the position.
  template <typename T>
  Status ReadKey(const toml::node& node, const KeySpec<T>& spec, const std::string& path,
                 T& target) const {
    Result<Value> value = ToValue(node, spec.kind);
    if (!value.ok()) return value.status().WithContext(Where(node.source()) + path);
    Status s = CheckAndSet(spec, target, *value);
    if (!s.ok()) return s.WithContext(Where(node.source()) + Assignment(path, spec.key, *value));
    return Status::Ok();
  }

  // Rejects unknown sections and keys, and sections of the wrong type, before any value is
  // read, so that a typo is reported as a typo and not as a missing value.
  Status CheckStructure(const toml::table& root) const {
    for (auto&& [key, node] : root) {
      const std::string_view name = key.str();
      if (IsTopLevelKey(name) || name == kVariantArray || name == kCredentialsArray) continue;
      if (!IsSection(name)) {
        const std::string what = node.is_table() ? "unknown section [" + std::string(name) + "]"
                                                 : "unknown key " + Quoted(name);
        return Status::InvalidArgument(Where(key.source()) + what +
                                       " (allowed at the top level: " + TopLevelNames() + ")");
      }
      const toml::table* section = node.as_table();
      if (section == nullptr) {
        return Status::InvalidArgument(Where(node.source()) + std::string(name) +
                                       ": expected a table ([" + std::string(name) + "]), found " +
                                       Describe(node));
      }
      for (auto&& [inner, value] : *section) {
        if (FindKey(ConfigKeys(), name, inner.str()) == nullptr) {
          return UnknownKey(key.str(), ConfigKeys(), name, inner, "[" + std::string(name) + "]");
        }
      }
    }
    return Status::Ok();
  }

  // Every scalar key: the file's value, then the environment's, each checked where it came
  // from, so that env wins and a bad value is reported with its own origin.
  Status ReadScalars(const toml::table& root, const Environment& env, Config& config) const {
    for (const KeySpec<Config>& spec : ConfigKeys()) {
      const toml::node* node = root.get(spec.section.empty() ? spec.key : spec.section);
      if (node != nullptr && !spec.section.empty()) node = node->as_table()->get(spec.key);
      if (node != nullptr) THUMBPIPE_RETURN_IF_ERROR(ReadKey(*node, spec, KeyPath(spec), config));

      const std::string var = EnvName(spec);
      std::optional<std::string_view> text = env.Get(var);
      if (!text) continue;
      const std::string origin = "environment variable " + var + "=" +
                                 Quoted(RedactUrlPassword(*text)) + " (" + KeyPath(spec) + ")";
      Result<Value> value = ParseEnvValue(spec.kind, *text);
      if (!value.ok()) return value.status().WithContext(origin);
      Status s = CheckAndSet(spec, config, *value);
      if (!s.ok()) return s.WithContext(origin);
    }
    return Status::Ok();
  }

  // Reads the array of tables root[name] into `out` (left alone when absent). After each
  // entry, `check` runs on the entries so far: an error then belongs to the newest entry and
  // is reported at its position. `check` names the entry itself.
  template <typename T, typename CheckSoFar>
  Status ReadArray(const toml::table& root, std::string_view name, std::span<const KeySpec<T>> keys,
                   CheckSoFar check, std::vector<T>& out) const {
    const toml::node* node = root.get(name);
    if (node == nullptr) return Status::Ok();
    const toml::array* array = node->as_array();
    if (array == nullptr || !std::all_of(array->begin(), array->end(),
                                         [](const toml::node& n) { return n.is_table(); })) {
      return Status::InvalidArgument(Where(node->source()) + std::string(name) +
                                     ": expected an array of tables ([[" + std::string(name) +
                                     "]]), found " + Describe(*node));
    }
    std::vector<T> items;
    for (size_t i = 0; i < array->size(); ++i) {
      const toml::table& table = *(*array)[i].as_table();
      const std::string path = std::string(name) + "[" + std::to_string(i) + "]";
      T item{};
      for (auto&& [key, value] : table) {
        const KeySpec<T>* spec = FindKey(keys, "", key.str());
        if (spec == nullptr) {
          return UnknownKey(path, keys, "", key, "[[" + std::string(name) + "]]");
        }
        THUMBPIPE_RETURN_IF_ERROR(ReadKey(value, *spec, path + "." + std::string(key.str()), item));
      }
      items.push_back(std::move(item));
      Status s = check(std::span<const T>(items));
      if (!s.ok()) return Status(s.code(), Where(table.source()) + s.message());
    }
    out = std::move(items);
    return Status::Ok();
  }

 private:
  static bool IsTopLevelKey(std::string_view name) {
    return FindKey(ConfigKeys(), "", name) != nullptr;
  }
  static bool IsSection(std::string_view name) {
    auto sections = SectionNames();
    return std::find(sections.begin(), sections.end(), name) != sections.end();
  }
  static std::string TopLevelNames() {
    std::string out = AllowedKeys(ConfigKeys(), "");
    for (std::string_view s : SectionNames()) out += ", [" + std::string(s) + "]";
    return out + ", [[" + std::string(kVariantArray) + "]], [[" + std::string(kCredentialsArray) +
           "]]";
  }

  template <typename T>
  static const KeySpec<T>* FindKey(std::span<const KeySpec<T>> keys, std::string_view section,
                                   std::string_view key) {
    for (const auto& spec : keys) {
      if (spec.section == section && spec.key == key) return &spec;
    }
    return nullptr;
  }

  template <typename T>
  Status UnknownKey(std::string_view parent, std::span<const KeySpec<T>> keys,
                    std::string_view section, const toml::key& key,
                    const std::string& header) const {
    return Status::InvalidArgument(Where(key.source()) + "unknown key " +
                                   Quoted(std::string(parent) + "." + std::string(key.str())) +
                                   " (allowed in " + header + ": " + AllowedKeys(keys, section) +
                                   ")");
  }

  std::string source_name_;
};

// A THUMBPIPE_ variable that names a known section must name one of its keys: a typo in a
// deployment's environment should fail loudly, not be ignored.
Status CheckEnvNames(const Environment& env) {
  for (const auto& var : env.vars()) {
    // Not a structured binding: clang 14 (the fuzz build) cannot capture one in a lambda.
    const std::string& name = var.first;
    if (!name.starts_with(kEnvPrefix)) continue;
    const std::string_view rest = std::string_view(name).substr(kEnvPrefix.size());
    for (std::string_view array : {kVariantArray, kCredentialsArray}) {
      if (rest.starts_with(Upper(array) + "_")) {
        return Status::InvalidArgument("environment variable " + name + ": [[" +
                                       std::string(array) +
                                       "]] cannot be set from the environment; use the file");
      }
    }
    for (std::string_view section : SectionNames()) {
      if (!rest.starts_with(Upper(section) + "_")) continue;
      const auto keys = ConfigKeys();
      if (std::none_of(keys.begin(), keys.end(),
                       [&](const KeySpec<Config>& spec) { return EnvName(spec) == name; })) {
        return Status::InvalidArgument("unknown environment variable " + name + ": [" +
                                       std::string(section) + "] has no such key (allowed in [" +
                                       std::string(section) + "]: " + AllowedKeys(keys, section) +
                                       ")");
      }
    }
  }
  return Status::Ok();
}

void ReplaceDataDir(std::string& url, const std::string& data_dir) {
  for (size_t at = url.find(kDataDirPlaceholder); at != std::string::npos;
       at = url.find(kDataDirPlaceholder, at + data_dir.size())) {
    url.replace(at, kDataDirPlaceholder.size(), data_dir);
  }
}

}  // namespace

Environment Environment::FromProcess() {
  Environment env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const size_t eq = text.find('=');
    if (eq == std::string_view::npos) continue;
    env.vars_.emplace(text.substr(0, eq), text.substr(eq + 1));
  }
  return env;
}

std::optional<std::string_view> Environment::Get(std::string_view name) const {
  auto it = vars_.find(name);
  if (it == vars_.end()) return std::nullopt;
  return it->second;
}

Result<Config> ParseConfig(std::string_view toml_text, std::string_view source_name,
                           const Environment& env) {
  const Reader reader(source_name);
  toml::table root;
  try {
    root = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(reader.Where(e.source()) +
                                   "invalid TOML: " + std::string(e.description()));
  }
  THUMBPIPE_RETURN_IF_ERROR(reader.CheckStructure(root));
  THUMBPIPE_RETURN_IF_ERROR(CheckEnvNames(env));

  Config config;
  THUMBPIPE_RETURN_IF_ERROR(reader.ReadScalars(root, env, config));
  THUMBPIPE_RETURN_IF_ERROR(reader.ReadArray(
      root, kVariantArray, VariantKeys(),
      [](std::span<const image::Variant> v) {
        return image::ValidateRecipe(image::Recipe{{v.begin(), v.end()}})
            .WithContext(std::string(kVariantArray) + "[" + std::to_string(v.size() - 1) + "]");
      },
      config.recipe.variants));
  THUMBPIPE_RETURN_IF_ERROR(reader.ReadArray(root, kCredentialsArray, CredentialKeys(),
                                             CheckCredentials, config.credentials));

  const std::string data_dir = config.data_dir.string();
  ReplaceDataDir(config.store.url, data_dir);
  ReplaceDataDir(config.queue.url, data_dir);
  THUMBPIPE_RETURN_IF_ERROR(Validate(config));
  return config;
}

Result<Config> LoadConfig(const std::filesystem::path& path, const Environment& env) {
  if (path.empty()) return ParseConfig("", "", env);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return Status::NotFound("config file " + Quoted(path.string()) + " does not exist");
  }
  std::ifstream in(path, std::ios::binary);
  std::string text;
  if (in && !std::filesystem::is_directory(path, ec)) {
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  if (!in || in.bad() || std::filesystem::is_directory(path, ec)) {
    return Status::IOError("cannot read config file " + Quoted(path.string()));
  }
  return ParseConfig(text, path.string(), env);
}

}  // namespace thumbpipe::config
