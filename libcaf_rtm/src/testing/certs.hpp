// Throwaway certificates for the fake Slack's TLS mode, generated in memory
// with OpenSSL at start-up (nothing is shipped or read from disk).

#pragma once

#include <string>
#include <vector>

namespace caf::rtm::testing::detail {

struct generated_certs {
  /// The self-signed CA that clients trust.
  std::string ca_pem;
  /// The server's leaf certificate, signed by the CA.
  std::string cert_pem;
  /// The leaf's private key.
  std::string key_pem;
};

/// Creates a CA (EC P-256, CA:TRUE) and a leaf whose subjectAltName lists
/// `names` (IP entries for addresses, DNS entries otherwise), both valid from
/// one hour ago for seven days. Throws `std::runtime_error` on failure.
generated_certs generate_certs(const std::vector<std::string>& names);

/// A CA that can sign several leaves (mutual TLS: servers and clients).
struct certificate_authority {
  std::string cert_pem;
  std::string key_pem;
};

/// A self-signed CA as `generate_certs` makes one, named `common_name`.
certificate_authority generate_ca(const std::string& common_name);

/// A leaf signed by `ca` for `names`, usable by TLS servers and clients alike
/// (extended key usage serverAuth and clientAuth); `ca_pem` of the result is
/// the CA's certificate.
generated_certs issue_cert(const certificate_authority& ca,
                           const std::vector<std::string>& names);

} // namespace caf::rtm::testing::detail
