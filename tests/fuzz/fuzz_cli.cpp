// Fuzz target: the command line of the tools (caf-rtm, echo_bot, the
// benchmark), then the client configuration made of it. The input is split
// into argv entries at NUL and '\n' bytes. Parsing must never crash, a usage
// error must say what is wrong, and no message may show a token given on the
// command line (with --token, --app-token, --caf-rtm.token, ...), nor a
// passphrase or a header line.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <caf/config_option.hpp>

#include "caf/rtm/client_config.hpp"
#include "common/cli.hpp"
#include "fuzz_check.hpp"

using namespace caf::rtm;

namespace {

// Beyond this, more arguments add nothing but time.
constexpr size_t max_args = 32;

std::vector<std::string> split_args(std::string_view input) {
  std::vector<std::string> result;
  size_t pos = 0;
  while (result.size() < max_args) {
    auto end = input.find_first_of(std::string_view{"\0\n", 2}, pos);
    if (end == std::string_view::npos) {
      result.emplace_back(input.substr(pos));
      break;
    }
    result.emplace_back(input.substr(pos, end - pos));
    pos = end + 1;
  }
  return result;
}

// A token value given on the command line: argument `arg`, from `offset`.
struct token_arg {
  size_t arg;
  size_t offset;
  std::string value;
};

// The tool's options, to read argv as the tool does.
class option_lookup : public cli::config {
public:
  const caf::config_option* find(std::string_view name) const {
    return custom_options_.cli_long_name_lookup({name.data(), name.size()});
  }
};

const option_lookup& options() {
  static option_lookup instance;
  return instance;
}

// Options whose values no message may show: tokens, anything named like a
// passphrase, password or secret (`openssl.passphrase`), and header lines
// (a gateway's key goes in a value).
bool is_token_option(const caf::config_option* opt) {
  if (opt == nullptr)
    return false;
  auto full = opt->full_name();
  std::string_view name{full.data(), full.size()};
  for (std::string_view word :
       {"token", "passphrase", "password", "secret", "extra-headers"})
    if (name.find(word) != std::string_view::npos)
      return true;
  return false;
}

// The token values among `args`, read as parse_command_line reads them:
// `--name=value` or `--name value` (then the next argument is the value,
// whatever it looks like), up to the first argument it refuses. After `--`
// and for `--caf#name=value`, only the first form (CAF reads those).
std::vector<token_arg> find_tokens(const std::vector<std::string>& args) {
  std::vector<token_arg> result;
  auto name_of = [](const std::string& arg) {
    auto eq = arg.find('=');
    return std::string_view{arg}.substr(
        2, eq == std::string::npos ? std::string::npos : eq - 2);
  };
  auto add_inline = [&](size_t i) {
    const auto& arg = args[i];
    auto eq = arg.find('=');
    if (arg.rfind("--", 0) == 0 && eq != std::string::npos &&
        is_token_option(options().find(name_of(arg))))
      result.push_back({i, eq + 1, arg.substr(eq + 1)});
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& arg = args[i];
    if (arg == "--") {
      for (++i; i < args.size(); ++i)
        add_inline(i);
      break;
    }
    if (arg == "-h" || arg == "-?")
      continue;
    if (arg.rfind("--", 0) != 0)
      break;
    if (arg.rfind("--caf#", 0) == 0) {
      add_inline(i);
      continue;
    }
    auto* opt = options().find(name_of(arg));
    if (opt == nullptr)
      break;
    auto has_value = arg.find('=') != std::string::npos;
    if (opt->is_flag()) {
      if (has_value)
        break;
      continue;
    }
    if (has_value) {
      add_inline(i);
    } else if (i + 1 < args.size()) {
      ++i;
      if (is_token_option(opt))
        result.push_back({i, 0, args[i]});
    } else {
      break;
    }
  }
  return result;
}

// Every message the tool could print for this command line: the parse
// error, or the errors of making an RTM and a Socket Mode configuration.
std::vector<std::string> messages(const std::vector<std::string>& args) {
  std::vector<std::string> storage;
  storage.reserve(args.size() + 1);
  storage.emplace_back("caf-rtm");
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& x : storage)
    argv.push_back(x.data());
  argv.push_back(nullptr);
  // A fresh config per command line: parsing stores into it.
  auto cfg = std::make_unique<cli::config>();
  auto res =
      cfg->parse_command_line(static_cast<int>(storage.size()), argv.data());
  if (res.exit != 0) {
    CAF_RTM_FUZZ_CHECK(res.exit == cli::exit_ok || res.exit == cli::exit_usage);
    // Help printed: exit_ok, nothing to say. Otherwise say what is wrong.
    CAF_RTM_FUZZ_CHECK(res.exit == cli::exit_ok || !res.error.empty());
    return {res.error};
  }
  CAF_RTM_FUZZ_CHECK(res.error.empty());
  std::vector<std::string> result;
  for (auto kind : {client_kind::rtm, client_kind::socket_mode}) {
    client_config out;
    auto made = cli::to_client_config(*cfg, out, kind);
    if (made.exit != 0) {
      CAF_RTM_FUZZ_CHECK(made.exit == cli::exit_usage);
      CAF_RTM_FUZZ_CHECK(!made.error.empty());
      result.push_back(made.error);
      continue;
    }
    // What the tool accepts, the client accepts.
    CAF_RTM_FUZZ_CHECK(!out.validate(kind));
    CAF_RTM_FUZZ_CHECK(out.log != nullptr);
  }
  return result;
}

// How CAF quotes an argument in its errors (escapes \n, \t, \\ and \").
std::string caf_escaped(std::string_view x) {
  std::string result;
  for (auto c : x) {
    switch (c) {
    case '\n':
      result += "\\n";
      break;
    case '\t':
      result += "\\t";
      break;
    case '\\':
      result += "\\\\";
      break;
    case '"':
      result += "\\\"";
      break;
    default:
      result += c;
    }
  }
  return result;
}

bool contains(const std::vector<std::string>& msgs, const std::string& x) {
  for (const auto& msg : msgs)
    if (msg.find(x) != std::string::npos)
      return true;
  return false;
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // to_client_config falls back to these: runs must not depend on the
  // environment.
  for (auto name :
       {"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "HTTPS_PROXY", "https_proxy",
        "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"})
    unsetenv(name);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto args = split_args({reinterpret_cast<const char*>(data), size});
  auto msgs = messages(args);
  auto tokens = find_tokens(args);
  // A message that quotes a token (as given, or escaped as CAF quotes it):
  // is it the token, or text that merely looks like it (an option name,
  // another argument)? With the tokens disguised, text that merely looks
  // like it stays in the message.
  std::vector<std::string> disguised_msgs;
  bool disguised = false;
  for (const auto& tok : tokens) {
    for (const auto& form : {tok.value, caf_escaped(tok.value)}) {
      // Short values match ordinary words of a message by chance.
      if (form.size() < 4 || !contains(msgs, form))
        continue;
      if (!disguised) {
        auto other = args;
        for (const auto& t : tokens)
          other[t.arg].replace(t.offset, t.value.size(),
                               fuzz::disguise(t.value));
        disguised_msgs = messages(other);
        disguised = true;
      }
      if (!contains(disguised_msgs, form))
        for (const auto& msg : msgs)
          CAF_RTM_FUZZ_CHECK_MSG(msg.find(form) == std::string::npos, msg);
    }
  }
  return 0;
}
