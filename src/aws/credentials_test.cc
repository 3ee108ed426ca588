// The credential chain: environment, then the profile in the shared credentials file, then in
// the config file, then the caller's fallback, with AWS's file-location overrides.
#include "aws/credentials.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>

namespace thumbpipe::aws {
namespace {

namespace fs = std::filesystem;

class CredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> n{0};
    home_ = fs::path(::testing::TempDir()) / ("thumbpipe_creds_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
    fs::create_directories(home_ / ".aws");
    env_["HOME"] = home_.string();
  }
  void TearDown() override { fs::remove_all(home_); }
  void Write(const fs::path& path, std::string_view text) { std::ofstream(path) << text; }
  EnvLookup Env() {
    return [this](std::string_view name) -> std::optional<std::string> {
      auto it = env_.find(std::string(name));
      if (it == env_.end()) return std::nullopt;
      return it->second;
    };
  }

  fs::path home_;
  std::map<std::string, std::string> env_;
};

TEST_F(CredentialsTest, EnvironmentComesFirst) {
  Write(home_ / ".aws/credentials", "[default]\naws_access_key_id = FILEKEY\naws_secret_access_key = filesecret\n");
  env_["AWS_ACCESS_KEY_ID"] = "ENVKEY";
  env_["AWS_SECRET_ACCESS_KEY"] = "envsecret";
  env_["AWS_SESSION_TOKEN"] = "token";
  auto r = ResolveCredentials(Env());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->credentials.access_key, "ENVKEY");
  EXPECT_EQ(r->credentials.secret_key, "envsecret");
  EXPECT_EQ(r->credentials.session_token.value_or(""), "token");
  EXPECT_EQ(r->source, "environment");
}

TEST_F(CredentialsTest, HalfAPairInTheEnvironmentIsAnError) {
  env_["AWS_ACCESS_KEY_ID"] = "ENVKEY";
  EXPECT_EQ(ResolveCredentials(Env()).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(CredentialsTest, ProfileFromTheSharedCredentialsFile) {
  Write(home_ / ".aws/credentials",
        "# comment\n[default]\naws_access_key_id=DEFKEY\naws_secret_access_key=defsecret\n\n"
        "[prod]\n  aws_access_key_id = PRODKEY \n aws_secret_access_key = prod/secret+x \n"
        "aws_session_token = tok\n");
  auto def = ResolveCredentials(Env());
  ASSERT_TRUE(def.ok()) << def.status().ToString();
  EXPECT_EQ(def->credentials.access_key, "DEFKEY");
  EXPECT_FALSE(def->credentials.session_token.has_value());
  env_["AWS_PROFILE"] = "prod";
  auto prod = ResolveCredentials(Env());
  ASSERT_TRUE(prod.ok());
  EXPECT_EQ(prod->credentials.access_key, "PRODKEY");
  EXPECT_EQ(prod->credentials.secret_key, "prod/secret+x");
  EXPECT_EQ(prod->credentials.session_token.value_or(""), "tok");
  EXPECT_NE(prod->source.find("[prod]"), std::string::npos);
}

TEST_F(CredentialsTest, ProfileFromTheConfigFileUsesItsSectionNames) {
  Write(home_ / ".aws/config",
        "[default]\nregion = eu-west-1\n[profile dev]\nregion = us-west-2\naws_access_key_id = DEVKEY\n"
        "aws_secret_access_key = devsecret\n");
  env_["AWS_PROFILE"] = "dev";
  auto r = ResolveCredentials(Env());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->credentials.access_key, "DEVKEY");
  EXPECT_EQ(ResolveRegion(Env()).value_or(""), "us-west-2");
  env_.erase("AWS_PROFILE");
  EXPECT_EQ(ResolveRegion(Env()).value_or(""), "eu-west-1");
  env_["AWS_REGION"] = "ap-south-1";
  EXPECT_EQ(ResolveRegion(Env()).value_or(""), "ap-south-1");
}

TEST_F(CredentialsTest, FileLocationsCanBeOverridden) {
  Write(home_ / "creds", "[default]\naws_access_key_id = OVERKEY\naws_secret_access_key = s\n");
  Write(home_ / "conf", "[profile other]\naws_access_key_id = CONFKEY\naws_secret_access_key = s\n");
  Write(home_ / ".aws/credentials", "[default]\naws_access_key_id = HOMEKEY\naws_secret_access_key = s\n");
  env_["AWS_SHARED_CREDENTIALS_FILE"] = (home_ / "creds").string();
  env_["AWS_CONFIG_FILE"] = (home_ / "conf").string();
  EXPECT_EQ(ResolveCredentials(Env())->credentials.access_key, "OVERKEY");
  env_["AWS_PROFILE"] = "other";
  EXPECT_EQ(ResolveCredentials(Env())->credentials.access_key, "CONFKEY");
}

TEST_F(CredentialsTest, FallbackLastAndAClearErrorWithout) {
  sigv4::Credentials fallback{"CFGKEY", "cfgsecret", std::nullopt};
  auto r = ResolveCredentials(Env(), fallback);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->credentials.access_key, "CFGKEY");
  auto none = ResolveCredentials(Env());
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
  EXPECT_NE(none.status().message().find("AWS_ACCESS_KEY_ID"), std::string::npos);
  EXPECT_NE(none.status().message().find(".aws/credentials"), std::string::npos);
}

TEST_F(CredentialsTest, AProfileWithHalfAPairIsAnError) {
  Write(home_ / ".aws/credentials", "[default]\naws_access_key_id = ONLYKEY\n");
  EXPECT_EQ(ResolveCredentials(Env(), sigv4::Credentials{"A", "B", std::nullopt}).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace thumbpipe::aws
