#include "certs.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>

#include <memory>
#include <stdexcept>

namespace caf::rtm::testing::detail {

namespace {

template <class T, void (*Free)(T*)>
struct openssl_deleter {
  void operator()(T* ptr) const {
    Free(ptr);
  }
};

using pkey_ptr =
    std::unique_ptr<EVP_PKEY, openssl_deleter<EVP_PKEY, EVP_PKEY_free>>;
using x509_ptr = std::unique_ptr<X509, openssl_deleter<X509, X509_free>>;
using bio_ptr = std::unique_ptr<BIO, openssl_deleter<BIO, BIO_free_all>>;
using bn_ptr = std::unique_ptr<BIGNUM, openssl_deleter<BIGNUM, BN_free>>;

void check(bool ok, const char* what) {
  if (!ok)
    throw std::runtime_error(std::string{"certificate generation: "} + what);
}

pkey_ptr make_key() {
  // P-256 keys take microseconds to generate, RSA keys far longer.
  pkey_ptr key{EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")};
  check(key != nullptr, "EC key");
  return key;
}

void set_random_serial(X509* cert) {
  // Random serials: the CA and the leaf share an issuer name, so their
  // serials must differ.
  bn_ptr bn{BN_new()};
  check(bn != nullptr, "BN_new");
  check(BN_rand(bn.get(), 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1,
        "BN_rand");
  check(BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) != nullptr,
        "serial");
}

void add_ext(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  auto ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  check(ext != nullptr, OBJ_nid2sn(nid));
  auto ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  check(ok, "X509_add_ext");
}

x509_ptr make_cert(EVP_PKEY* key, const std::string& common_name) {
  x509_ptr cert{X509_new()};
  check(cert != nullptr, "X509_new");
  check(X509_set_version(cert.get(), X509_VERSION_3) == 1, "version");
  set_random_serial(cert.get());
  check(X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) != nullptr,
        "notBefore");
  check(X509_gmtime_adj(X509_getm_notAfter(cert.get()), 7L * 24 * 3600) !=
            nullptr,
        "notAfter");
  check(X509_set_pubkey(cert.get(), key) == 1, "pubkey");
  auto name = X509_get_subject_name(cert.get());
  check(X509_NAME_add_entry_by_txt(
            name, "CN", MBSTRING_UTF8,
            reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
            0) == 1,
        "subject");
  return cert;
}

bool is_ip_address(const std::string& name) {
  unsigned char buf[16];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 ||
         inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

std::string to_pem(X509* cert) {
  bio_ptr bio{BIO_new(BIO_s_mem())};
  check(bio != nullptr && PEM_write_bio_X509(bio.get(), cert) == 1, "PEM");
  char* data = nullptr;
  auto len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string to_pem(EVP_PKEY* key) {
  bio_ptr bio{BIO_new(BIO_s_mem())};
  check(bio != nullptr &&
            PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0,
                                     nullptr, nullptr) == 1,
        "PEM key");
  char* data = nullptr;
  auto len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

x509_ptr make_ca(EVP_PKEY* key, const std::string& common_name) {
  auto ca = make_cert(key, common_name);
  check(X509_set_issuer_name(ca.get(), X509_get_subject_name(ca.get())) == 1,
        "issuer");
  add_ext(ca.get(), ca.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_ext(ca.get(), ca.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  add_ext(ca.get(), ca.get(), NID_subject_key_identifier, "hash");
  check(X509_sign(ca.get(), key, EVP_sha256()) > 0, "sign CA");
  return ca;
}

// A leaf for `names`, signed by `ca` with `ca_key`; `usage` is its extended
// key usage.
generated_certs make_leaf(X509* ca, EVP_PKEY* ca_key,
                          const std::vector<std::string>& names,
                          const char* usage) {
  check(!names.empty(), "no certificate names");
  auto leaf_key = make_key();
  auto leaf = make_cert(leaf_key.get(), names.front());
  check(X509_set_issuer_name(leaf.get(), X509_get_subject_name(ca)) == 1,
        "issuer");
  std::string san;
  for (auto& name : names) {
    if (!san.empty())
      san += ',';
    san += is_ip_address(name) ? "IP:" : "DNS:";
    san += name;
  }
  add_ext(leaf.get(), ca, NID_basic_constraints, "critical,CA:FALSE");
  add_ext(leaf.get(), ca, NID_key_usage, "critical,digitalSignature");
  add_ext(leaf.get(), ca, NID_ext_key_usage, usage);
  add_ext(leaf.get(), ca, NID_subject_key_identifier, "hash");
  add_ext(leaf.get(), ca, NID_authority_key_identifier, "keyid:always");
  add_ext(leaf.get(), ca, NID_subject_alt_name, san);
  check(X509_sign(leaf.get(), ca_key, EVP_sha256()) > 0, "sign leaf");
  return {to_pem(ca), to_pem(leaf.get()), to_pem(leaf_key.get())};
}

} // namespace

generated_certs generate_certs(const std::vector<std::string>& names) {
  check(!names.empty(), "no certificate names");
  auto ca_key = make_key();
  auto ca = make_ca(ca_key.get(), "caf-rtm fake Slack test CA");
  return make_leaf(ca.get(), ca_key.get(), names, "serverAuth");
}

certificate_authority generate_ca(const std::string& common_name) {
  auto key = make_key();
  auto ca = make_ca(key.get(), common_name);
  return {to_pem(ca.get()), to_pem(key.get())};
}

generated_certs issue_cert(const certificate_authority& ca,
                           const std::vector<std::string>& names) {
  bio_ptr cert_bio{BIO_new_mem_buf(ca.cert_pem.data(),
                                   static_cast<int>(ca.cert_pem.size()))};
  bio_ptr key_bio{
      BIO_new_mem_buf(ca.key_pem.data(), static_cast<int>(ca.key_pem.size()))};
  check(cert_bio && key_bio, "BIO_new_mem_buf");
  x509_ptr cert{PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr)};
  pkey_ptr key{
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr)};
  check(cert && key, "reading the CA");
  return make_leaf(cert.get(), key.get(), names, "serverAuth,clientAuth");
}

} // namespace caf::rtm::testing::detail
