#include <cerrno>
#include <cstring>
#include <fstream>

#include "auth/aws_credentials_internal.h"

extern char** environ;  // NOLINT: POSIX

namespace tollgate::auth {

namespace asio = boost::asio;
using detail::expandHome;
using detail::fail;
using detail::fileExists;
using detail::isBlank;
using detail::readFile;
using detail::trim;

namespace {

constexpr size_t kMaxFileBytes = 1024 * 1024;  // config files and tokens are tiny

// ---------------------------------------------------------------------------------------------
// Environment variables

class EnvironmentProvider final : public CredentialProvider {
 public:
  explicit EnvironmentProvider(Environment env) : env_(std::move(env)) {}
  std::string_view name() const override { return "environment"; }

  asio::awaitable<Result<AwsCredentials>> get() override {
    auto id = env_.get("AWS_ACCESS_KEY_ID");
    auto secret = env_.get("AWS_SECRET_ACCESS_KEY");
    if (!id && !secret) co_return fail("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY not set");
    if (!id) co_return fail("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not");
    if (!secret) co_return fail("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
    AwsCredentials c;
    c.access_key_id = *id;
    c.secret_access_key = *secret;
    c.session_token = env_.get("AWS_SESSION_TOKEN").value_or("");
    co_return c;
  }

 private:
  Environment env_;
};

// ---------------------------------------------------------------------------------------------
// Shared credentials and config files

// The section of the config file that holds `profile`: "[profile NAME]", or "[default]" for the
// default profile (also "[profile default]").
const std::map<std::string, std::string>* configSection(const IniSections& ini,
                                                        std::string_view profile) {
  if (profile == "default") {
    if (auto it = ini.find("default"); it != ini.end()) return &it->second;
  }
  for (const auto& [section, keys] : ini) {
    std::string_view s = section;
    if (!s.starts_with("profile") || s.size() < 8 || !isBlank(s[7])) continue;
    if (trim(s.substr(7)) == profile) return &keys;
  }
  return nullptr;
}

class ProfileProvider final : public CredentialProvider {
 public:
  explicit ProfileProvider(Environment env) : env_(std::move(env)) {}
  std::string_view name() const override { return "shared config files"; }

  asio::awaitable<Result<AwsCredentials>> get() override { co_return resolve(); }

 private:
  struct File {
    std::string label;  // path as shown in messages
    std::optional<std::string> path;
  };

  File locate(const char* var, const char* default_rel) const {
    File f;
    if (auto set = env_.get(var)) {
      f.path = expandHome(*set, env_);
      f.label = f.path ? *f.path : *set;
      if (!f.path) f.label += " (HOME not set)";
    } else if (auto home = env_.get("HOME")) {
      f.path = *home + default_rel;
      f.label = *f.path;
    } else {
      f.label = std::string("~") + default_rel + " (HOME not set)";
    }
    return f;
  }

  // The keys of `profile`, from one file. nullopt with a note when the file or profile is absent.
  Result<std::optional<std::map<std::string, std::string>>> load(const File& f, bool config_style,
                                                                 const std::string& profile,
                                                                 std::vector<std::string>& notes) {
    using Out = std::optional<std::map<std::string, std::string>>;
    if (!f.path) {
      notes.push_back(f.label);
      return Out{};
    }
    if (!fileExists(*f.path)) {
      notes.push_back(f.label + " does not exist");
      return Out{};
    }
    auto text = readFile(*f.path);
    if (!text) return text.error();
    auto ini = parseIni(text.value(), *f.path);
    if (!ini) return ini.error();
    const std::map<std::string, std::string>* keys = nullptr;
    if (config_style) {
      keys = configSection(ini.value(), profile);
    } else if (auto it = ini.value().find(profile); it != ini.value().end()) {
      keys = &it->second;
    }
    if (!keys) {
      notes.push_back(f.label + " has no profile '" + profile + "'");
      return Out{};
    }
    return Out{*keys};
  }

  static Result<AwsCredentials> fromKeys(const std::map<std::string, std::string>& keys,
                                         const std::string& profile, const std::string& file) {
    auto id = keys.find("aws_access_key_id");
    auto secret = keys.find("aws_secret_access_key");
    if (id == keys.end() || id->second.empty()) {
      for (const char* k : {"role_arn", "credential_process", "sso_session", "sso_start_url",
                            "web_identity_token_file", "credential_source"}) {
        if (keys.count(k)) {
          return fail("profile '" + profile + "' in " + file + " uses " + k +
                      ", which tollgate does not support (give it aws_access_key_id and "
                      "aws_secret_access_key, or use another source)");
        }
      }
      return fail("profile '" + profile + "' in " + file + " has no aws_access_key_id");
    }
    if (secret == keys.end() || secret->second.empty()) {
      return fail("profile '" + profile + "' in " + file +
                  " has aws_access_key_id but no aws_secret_access_key");
    }
    AwsCredentials c;
    c.access_key_id = id->second;
    c.secret_access_key = secret->second;
    if (auto t = keys.find("aws_session_token"); t != keys.end()) c.session_token = t->second;
    return c;
  }

  Result<AwsCredentials> resolve() {
    const std::string profile = env_.get("AWS_PROFILE").value_or("default");
    const File creds_file = locate("AWS_SHARED_CREDENTIALS_FILE", "/.aws/credentials");
    const File config_file = locate("AWS_CONFIG_FILE", "/.aws/config");
    std::vector<std::string> notes;

    // The credentials file wins over the config file, as in the SDKs and the CLI.
    auto from_creds = load(creds_file, false, profile, notes);
    if (!from_creds) return from_creds.error();
    if (from_creds.value()) return fromKeys(*from_creds.value(), profile, creds_file.label);

    auto from_config = load(config_file, true, profile, notes);
    if (!from_config) return from_config.error();
    if (from_config.value()) return fromKeys(*from_config.value(), profile, config_file.label);

    std::string why = "profile '" + profile + "' not found (";
    for (size_t i = 0; i < notes.size(); ++i) why += (i ? "; " : "") + notes[i];
    return fail(why + ")");
  }

  Environment env_;
};

}  // namespace

Environment Environment::process() {
  Environment env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    env.vars_.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return env;
}

std::optional<std::string> Environment::get(std::string_view name) const {
  auto it = vars_.find(name);
  if (it == vars_.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

void Environment::unset(std::string_view name) {
  if (auto it = vars_.find(name); it != vars_.end()) vars_.erase(it);
}

Result<std::string> detail::readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail("cannot read " + path + ": " + std::strerror(errno));
  std::string data;
  char buf[8192];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    data.append(buf, static_cast<size_t>(in.gcount()));
    if (data.size() > kMaxFileBytes) return fail(path + " is larger than 1 MiB");
  }
  if (in.bad()) return fail("cannot read " + path + ": " + std::strerror(errno));
  return data;
}

bool detail::fileExists(const std::string& path) {
  std::ifstream in(path);
  return static_cast<bool>(in);
}

std::optional<std::string> detail::expandHome(std::string path, const Environment& env) {
  if (path == "~" || path.starts_with("~/")) {
    auto home = env.get("HOME");
    if (!home) return std::nullopt;
    path = *home + path.substr(1);
  }
  return path;
}

std::unique_ptr<CredentialProvider> makeEnvironmentProvider(Environment env) {
  return std::make_unique<EnvironmentProvider>(std::move(env));
}

std::unique_ptr<CredentialProvider> makeProfileProvider(Environment env) {
  return std::make_unique<ProfileProvider>(std::move(env));
}

}  // namespace tollgate::auth
