#include <string>

#include "config/checks.h"
#include "config/config.h"
#include "config/keys.h"

namespace thumbpipe::config {
namespace {

template <typename T>
void AppendKey(const KeySpec<T>& spec, const T& target, Secrets secrets, std::string& out) {
  Value value = spec.get(target);
  if (secrets == Secrets::kRedact) {
    if (spec.key == "secret_key") {
      value = std::string("<redacted>");
    } else if (auto* text = std::get_if<std::string>(&value)) {
      *text = RedactUrlPassword(*text);
    }
  }
  out += std::string(spec.key) + " = " + RenderValue(value) + "\n";
}

template <typename T>
void AppendArray(std::string_view name, std::span<const KeySpec<T>> keys,
                 const std::vector<T>& items, Secrets secrets, std::string& out) {
  for (const T& item : items) {
    out += "\n[[" + std::string(name) + "]]\n";
    for (const KeySpec<T>& spec : keys) AppendKey(spec, item, secrets, out);
  }
}

}  // namespace

// Sections come in table order, which is also the order of docs/configuration.md. The arrays
// of tables go last: in TOML, whatever follows a [[x]] header up to the next header belongs to
// that entry.
std::string ToToml(const Config& config, Secrets secrets) {
  std::string out;
  std::string_view section;
  for (const KeySpec<Config>& spec : ConfigKeys()) {
    if (spec.section != section) {
      section = spec.section;
      out += "\n[" + std::string(section) + "]\n";
    }
    AppendKey(spec, config, secrets, out);
  }
  if (config.credentials.empty()) {
    out += "\n# No [[credentials]]: `serve` generates an admin key on first start.\n";
  }
  AppendArray(kCredentialsArray, CredentialKeys(), config.credentials, secrets, out);
  AppendArray(kVariantArray, VariantKeys(), config.recipe.variants, secrets, out);
  return out;
}

}  // namespace thumbpipe::config
