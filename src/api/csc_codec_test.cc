#include "api/csc_codec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <boost/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"

namespace inkan::api::csc {
namespace {

using crypto::HashAlgorithm;
using crypto::KeyAlgorithm;
using crypto::RsaPadding;
using testing::AllOf;
using testing::ElementsAre;
using testing::Eq;
using testing::Field;
using testing::HasSubstr;
using testing::Matcher;
using testing::Not;

namespace json = boost::json;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

// The CSC error a failed parse carries; {0, "OK"} if it did not fail, so
// that every matcher below fails then.
template <typename T>
CscError ErrorOf(const absl::StatusOr<T>& r) {
  if (r.ok()) return CscError{0, "OK", ""};
  return FromStatus(r.status());
}

Matcher<CscError> IsError(int http, const std::string& code,
                          Matcher<std::string> description) {
  return AllOf(Field("http_status", &CscError::http_status, Eq(http)),
               Field("error", &CscError::error, Eq(code)),
               Field("description", &CscError::description, description));
}

Matcher<CscError> BadRequest(Matcher<std::string> description) {
  return IsError(400, "invalid_request", description);
}

std::string B64(absl::string_view bytes) { return absl::Base64Escape(bytes); }
std::string B64Url(absl::string_view bytes) {
  return absl::WebSafeBase64Escape(bytes);
}

// Distinct digests of the given length.
std::string Digest(char fill, size_t len = 32) {
  std::string d(len, fill);
  d[0] = '\x01';  // so that base64 of it has no trailing-bit ambiguity games
  return d;
}

json::object ParseBack(const std::string& text) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  EXPECT_FALSE(ec) << text;
  EXPECT_TRUE(v.is_object()) << text;
  return v.is_object() ? v.get_object() : json::object();
}

std::string S(const json::value& v) {
  EXPECT_TRUE(v.is_string()) << json::serialize(v);
  return v.is_string() ? std::string(v.get_string()) : std::string();
}

// ---------------------------------------------------------------------------
// RSASSA-PSS-params built with OpenSSL (independently of the codec).
// ---------------------------------------------------------------------------

struct PssSpec {
  int hash_nid = NID_sha256;  // 0: leave hashAlgorithm out (SHA-1 default)
  int mgf_hash_nid = NID_sha256;
  int mgf_nid = NID_mgf1;
  long salt = 32;    // -1: leave out (20 default)
  long trailer = 0;  // 0: leave out
};

std::string OpenSslPssDer(const PssSpec& spec) {
  RSA_PSS_PARAMS* p = RSA_PSS_PARAMS_new();
  if (spec.hash_nid != 0) {
    p->hashAlgorithm = X509_ALGOR_new();
    X509_ALGOR_set0(p->hashAlgorithm, OBJ_nid2obj(spec.hash_nid), V_ASN1_NULL,
                    nullptr);
  }
  X509_ALGOR* mgf_hash = X509_ALGOR_new();
  X509_ALGOR_set0(mgf_hash, OBJ_nid2obj(spec.mgf_hash_nid), V_ASN1_NULL,
                  nullptr);
  ASN1_STRING* packed =
      ASN1_item_pack(mgf_hash, ASN1_ITEM_rptr(X509_ALGOR), nullptr);
  X509_ALGOR_free(mgf_hash);
  p->maskGenAlgorithm = X509_ALGOR_new();
  X509_ALGOR_set0(p->maskGenAlgorithm, OBJ_nid2obj(spec.mgf_nid),
                  V_ASN1_SEQUENCE, packed);
  if (spec.salt >= 0) {
    p->saltLength = ASN1_INTEGER_new();
    ASN1_INTEGER_set(p->saltLength, spec.salt);
  }
  if (spec.trailer != 0) {
    p->trailerField = ASN1_INTEGER_new();
    ASN1_INTEGER_set(p->trailerField, spec.trailer);
  }
  unsigned char* der = nullptr;
  int n = i2d_RSA_PSS_PARAMS(p, &der);
  RSA_PSS_PARAMS_free(p);
  EXPECT_GT(n, 0);
  std::string out(reinterpret_cast<char*>(der), n > 0 ? n : 0);
  OPENSSL_free(der);
  return out;
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

TEST(CscErrorTest, RenderErrorParsesBack) {
  json::object o = ParseBack(RenderError(InvalidPin()));
  EXPECT_EQ(S(o.at("error")), "invalid_pin");
  EXPECT_EQ(S(o.at("error_description")), "The PIN is invalid");

  o = ParseBack(RenderError(CscError{400, "invalid_request", ""}));
  EXPECT_EQ(S(o.at("error")), "invalid_request");
  EXPECT_FALSE(o.contains("error_description"));

  // Quotes, control characters and bytes that are not UTF-8 still give JSON.
  o = ParseBack(RenderError(InvalidRequest("a \"b\"\n\xff\xfe c")));
  EXPECT_EQ(S(o.at("error_description")), "a \"b\"\n?? c");
}

TEST(CscErrorTest, HelpersFollowTheSpecTable) {
  struct Row {
    CscError error;
    int http;
    std::string code;
    std::string description;
  };
  std::vector<Row> rows = {
      {InvalidRequest("x"), 400, "invalid_request", "x"},
      {InvalidToken(), 401, "invalid_token", "The access token is not valid"},
      {ExpiredToken(), 401, "expired_token",
       "The access or refresh token is expired or revoked"},
      {InvalidClient(), 401, "invalid_client", "Invalid authorization header"},
      {AccessDenied(), 403, "access_denied", "Access denied"},
      {InvalidScope(), 400, "invalid_scope", "Invalid parameter scope"},
      {InvalidGrant("Invalid parameter code"), 400, "invalid_grant",
       "Invalid parameter code"},
      {AuthenticationError(), 400, "authentication_error",
       "An error occurred during authentication process"},
      {MalformedAuthenticationParameter(), 401, "invalid_request",
       "Malformed authentication parameter."},
      {MalformedUsernamePassword(), 400, "invalid_request",
       "Malformed username-password."},
      {InvalidRefreshToken(), 400, "invalid_request", "Invalid refresh_token"},
      {ClientAuthorizationRequired(), 401, "invalid_request",
       "Client authorization required"},
      {InvalidPin(), 400, "invalid_pin", "The PIN is invalid"},
      {InvalidOtp(), 400, "invalid_otp", "The OTP is invalid"},
      {InvalidAuthenticationData(), 400, "invalid_authentication_data",
       "The authentication data is invalid"},
      {PinLocked(), 400, "invalid_request", "PIN locked"},
      {OtpLocked(), 400, "invalid_request", "OTP locked"},
      {CredentialLocked(), 400, "invalid_request", "Credential locked"},
      {InvalidCredentialId(), 400, "invalid_request",
       "Invalid parameter credentialID"},
      {CredentialDisabled(), 400, "invalid_request",
       "The credential identified by credentialID is disabled"},
      {TooManySignatures(), 400, "invalid_request",
       "Numbers of signatures is too high"},
      {InvalidSad(), 400, "invalid_request", "Invalid parameter SAD"},
      {SadExpired(), 400, "invalid_request", "SAD expired"},
      {HashNotAuthorized(), 400, "invalid_request",
       "Hash is not authorized by the SAD."},
      {UserIdMustBeNull(), 400, "invalid_request",
       "userID parameter MUST be null"},
      {SigningCertificateExpired("O=Org,CN=Alice"), 400, "invalid_request",
       "Signing certificate 'O=Org,CN=Alice' is expired."},
      {ServerError(), 500, "server_error", "Internal server error"},
      {TemporarilyUnavailable(), 503, "temporarily_unavailable",
       "The service is temporarily unavailable"},
      {TooManyRequests(), 429, "temporarily_unavailable", "Too many requests"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.description);
    EXPECT_THAT(row.error, IsError(row.http, row.code, Eq(row.description)));
    // Through a status and back, unchanged.
    EXPECT_EQ(FromStatus(ToStatus(row.error)), row.error);
  }
  EXPECT_EQ(UnauthorizedClient().error, "unauthorized_client");
  EXPECT_EQ(UnsupportedResponseType().error, "unsupported_response_type");
  EXPECT_EQ(UnsupportedTokenType().error, "unsupported_token_type");
}

TEST(CscErrorTest, ToStatusPicksAMatchingCode) {
  EXPECT_EQ(ToStatus(InvalidPin()).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ToStatus(InvalidToken()).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(ToStatus(AccessDenied()).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ToStatus(ServerError()).code(), absl::StatusCode::kInternal);
  EXPECT_EQ(ToStatus(InvalidPin()).message(), "The PIN is invalid");
}

TEST(CscErrorTest, FromStatusMapsPlainStatuses) {
  EXPECT_THAT(FromStatus(absl::InvalidArgumentError("bad x")),
              BadRequest(Eq("bad x")));
  EXPECT_THAT(FromStatus(absl::NotFoundError("no such credential")),
              BadRequest(Eq("no such credential")));
  EXPECT_THAT(FromStatus(absl::UnauthenticatedError("token expired")),
              IsError(401, "invalid_token", Eq("token expired")));
  EXPECT_THAT(FromStatus(absl::PermissionDeniedError("nope")),
              IsError(403, "access_denied", Eq("nope")));
  EXPECT_THAT(FromStatus(absl::ResourceExhaustedError("x")),
              IsError(429, "temporarily_unavailable", Eq("Too many requests")));
  EXPECT_THAT(FromStatus(absl::UnavailableError("HSM at 10.0.0.7 down")),
              IsError(503, "temporarily_unavailable", Not(HasSubstr("HSM"))));
  // Internal detail never reaches the client.
  EXPECT_THAT(FromStatus(absl::InternalError("sqlite: /var/lib/inkan/db")),
              IsError(500, "server_error", Eq("Internal server error")));
  EXPECT_THAT(FromStatus(absl::DataLossError("x")),
              IsError(500, "server_error", Eq("Internal server error")));
  EXPECT_EQ(FromStatus(absl::OkStatus()).http_status, 500);
  // A payload that does not parse falls back to the code.
  absl::Status odd = absl::InvalidArgumentError("m");
  odd.SetPayload("type.inkan/csc_error", absl::Cord("garbage"));
  EXPECT_THAT(FromStatus(odd), BadRequest(Eq("m")));
}

// ---------------------------------------------------------------------------
// JSON rules common to every endpoint (exercised through info and
// credentials/info).
// ---------------------------------------------------------------------------

TEST(JsonRulesTest, EmptyBodyIsAnEmptyObject) {
  auto r = ParseInfoRequest("");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->lang.has_value());
  EXPECT_TRUE(ParseInfoRequest(" \r\n").ok());
  EXPECT_TRUE(ParseInfoRequest("{}").ok());
}

TEST(JsonRulesTest, RefusesMalformedJson) {
  for (const char* body :
       {"{", "{\"lang\":}", "{\"lang\":\"en\",}", "{\"lang\":\"en\"} x",
        "{/*c*/\"lang\":\"en\"}", "{'lang':'en'}", "nul"}) {
    SCOPED_TRACE(body);
    EXPECT_THAT(ErrorOf(ParseInfoRequest(body)),
                BadRequest(HasSubstr("Malformed JSON")));
  }
}

TEST(JsonRulesTest, RefusesNonObjects) {
  for (const char* body : {"[]", "\"en\"", "1", "null", "true"}) {
    SCOPED_TRACE(body);
    EXPECT_THAT(ErrorOf(ParseInfoRequest(body)),
                BadRequest(HasSubstr("not a JSON object")));
  }
}

TEST(JsonRulesTest, RefusesInvalidUtf8) {
  EXPECT_THAT(ErrorOf(ParseInfoRequest("{\"lang\":\"e\xff\"}")),
              BadRequest(HasSubstr("Malformed JSON")));
}

TEST(JsonRulesTest, RefusesRepeatedMembers) {
  EXPECT_THAT(ErrorOf(ParseCredentialsInfoRequest(
                  R"({"credentialID":"a","credentialID":"b"})")),
              BadRequest(Eq("Repeated parameter credentialID")));
  // Also inside nested objects, but not across sibling objects.
  EXPECT_THAT(ErrorOf(ParseCredentialsAuthorizeRequest(
                  R"({"credentialID":"c","numSignatures":1,
                      "authData":[{"id":"PIN","id":"OTP"}]})")),
              BadRequest(Eq("Repeated parameter id")));
  EXPECT_TRUE(ParseCredentialsAuthorizeRequest(
                  R"({"credentialID":"c","numSignatures":1,
                      "authData":[{"id":"PIN","value":"1"},
                                  {"id":"OTP","value":"2"}]})")
                  .ok());
}

TEST(JsonRulesTest, RefusesOversizedBodiesAndDeepNesting) {
  std::string big = absl::StrCat("{\"clientData\":\"",
                                 std::string(kMaxBodyBytes, 'x'), "\"}");
  EXPECT_THAT(ErrorOf(ParseInfoRequest(big)),
              BadRequest(HasSubstr("larger than")));
  std::string deep = std::string(40, '[') + std::string(40, ']');
  EXPECT_THAT(ErrorOf(ParseInfoRequest(absl::StrCat("{\"x\":", deep, "}"))),
              BadRequest(HasSubstr("Malformed JSON")));
}

TEST(JsonRulesTest, IgnoresUnknownMembersAndTreatsNullAsAbsent) {
  auto r = ParseCredentialsListRequest(
      R"({"maxResults":10,"pageToken":"x","future":{"a":[1,2]},
          "userID":null,"lang":null})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->user_id.has_value());
  EXPECT_FALSE(r->lang.has_value());
}

// ---------------------------------------------------------------------------
// info, auth/login
// ---------------------------------------------------------------------------

TEST(InfoRequestTest, Lang) {
  auto r = ParseInfoRequest(R"({"lang":"en-US"})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->lang, "en-US");
  EXPECT_THAT(
      ErrorOf(ParseInfoRequest(R"({"lang":5})")),
      BadRequest(Eq("Missing (or invalid type) string parameter lang")));
  for (const char* bad : {"e", "en_US", "en-", "englishlanguage", "123", ""}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(
        ErrorOf(ParseInfoRequest(absl::StrCat("{\"lang\":\"", bad, "\"}"))),
        BadRequest(HasSubstr("Invalid parameter lang")));
  }
}

TEST(AuthLoginRequestTest, GoodAndBad) {
  auto r = ParseAuthLoginRequest(
      R"({"rememberMe":true,"refresh_token":"rt","clientData":"cd"})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->remember_me);
  EXPECT_EQ(r->refresh_token, "rt");
  EXPECT_EQ(r->client_data, "cd");

  auto empty = ParseAuthLoginRequest("");
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->remember_me);

  EXPECT_THAT(
      ErrorOf(ParseAuthLoginRequest(R"({"rememberMe":"true"})")),
      BadRequest(Eq("Missing (or invalid type) boolean parameter rememberMe")));
  EXPECT_THAT(ErrorOf(ParseAuthLoginRequest(R"({"rememberMe":1})")),
              BadRequest(HasSubstr("rememberMe")));
  EXPECT_THAT(
      ErrorOf(ParseAuthLoginRequest(
          absl::StrCat("{\"refresh_token\":\"",
                       std::string(kMaxTokenBytes + 1, 'a'), "\"}"))),
      BadRequest(HasSubstr("Invalid parameter refresh_token: longer than")));
  EXPECT_THAT(ErrorOf(ParseAuthLoginRequest(absl::StrCat(
                  "{\"clientData\":\"",
                  std::string(kMaxClientDataBytes + 1, 'a'), "\"}"))),
              BadRequest(HasSubstr("Invalid parameter clientData")));
}

// ---------------------------------------------------------------------------
// credentials/list, credentials/info
// ---------------------------------------------------------------------------

TEST(CredentialsListRequestTest, GoodAndDefaults) {
  auto r = ParseCredentialsListRequest(
      R"({"userID":"alice","credentialInfo":true,"certificates":"chain",
          "certInfo":true,"authInfo":true,"onlyValid":true,"lang":"ja",
          "clientData":"x"})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->user_id, "alice");
  EXPECT_TRUE(r->credential_info);
  EXPECT_EQ(r->certificates, CertificatesMode::kChain);
  EXPECT_TRUE(r->cert_info);
  EXPECT_TRUE(r->auth_info);
  EXPECT_TRUE(r->only_valid);
  EXPECT_EQ(r->lang, "ja");

  auto d = ParseCredentialsListRequest("{}");
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->credential_info);
  EXPECT_EQ(d->certificates, CertificatesMode::kSingle);
  EXPECT_FALSE(d->cert_info || d->auth_info || d->only_valid);
}

TEST(CredentialsListRequestTest, Bad) {
  EXPECT_THAT(ErrorOf(ParseCredentialsListRequest(R"({"certificates":"all"})")),
              BadRequest(HasSubstr("Invalid parameter certificates")));
  EXPECT_THAT(ErrorOf(ParseCredentialsListRequest(R"({"certificates":true})")),
              BadRequest(Eq(
                  "Missing (or invalid type) string parameter certificates")));
  EXPECT_THAT(
      ErrorOf(ParseCredentialsListRequest(R"({"onlyValid":1})")),
      BadRequest(Eq("Missing (or invalid type) boolean parameter onlyValid")));
  EXPECT_THAT(
      ErrorOf(ParseCredentialsListRequest(R"({"credentialInfo":"yes"})")),
      BadRequest(HasSubstr("credentialInfo")));
  EXPECT_THAT(ErrorOf(ParseCredentialsListRequest(absl::StrCat(
                  "{\"userID\":\"", std::string(kMaxIdBytes + 1, 'u'), "\"}"))),
              BadRequest(HasSubstr("Invalid parameter userID: longer than")));
  EXPECT_THAT(ErrorOf(ParseCredentialsListRequest(R"({"userID":""})")),
              BadRequest(Eq("Invalid parameter userID: empty")));
}

TEST(CredentialsInfoRequestTest, GoodAndBad) {
  auto r = ParseCredentialsInfoRequest(
      R"({"credentialID":"cred-1","certificates":"none","certInfo":true,
          "authInfo":false,"lang":"en"})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->credential_id, "cred-1");
  EXPECT_EQ(r->certificates, CertificatesMode::kNone);
  EXPECT_TRUE(r->cert_info);
  EXPECT_FALSE(r->auth_info);

  const std::string missing =
      "Missing (or invalid type) string parameter credentialID";
  EXPECT_THAT(ErrorOf(ParseCredentialsInfoRequest("{}")),
              BadRequest(Eq(missing)));
  EXPECT_THAT(ErrorOf(ParseCredentialsInfoRequest(R"({"credentialID":7})")),
              BadRequest(Eq(missing)));
  EXPECT_THAT(ErrorOf(ParseCredentialsInfoRequest(R"({"credentialID":null})")),
              BadRequest(Eq(missing)));
  EXPECT_THAT(ErrorOf(ParseCredentialsInfoRequest(R"({"credentialID":""})")),
              BadRequest(Eq("Invalid parameter credentialID: empty")));
  EXPECT_THAT(
      ErrorOf(ParseCredentialsInfoRequest(R"({"credentialID":"a\u0000b"})")),
      BadRequest(
          Eq("Invalid parameter credentialID: contains a control character")));
  EXPECT_THAT(ErrorOf(ParseCredentialsInfoRequest(
                  R"({"credentialID":"a","certInfo":"true"})")),
              BadRequest(HasSubstr("boolean parameter certInfo")));
}

// ---------------------------------------------------------------------------
// credentials/authorize
// ---------------------------------------------------------------------------

std::string AuthorizeBody(const std::string& extra) {
  return absl::StrCat(R"({"credentialID":"cred-1",)", extra, "}");
}

TEST(CredentialsAuthorizeRequestTest, Good) {
  std::string h1 = Digest('a'), h2 = Digest('b');
  auto r = ParseCredentialsAuthorizeRequest(AuthorizeBody(absl::StrCat(
      R"("numSignatures":2,"hashes":[")", B64(h1), R"(",")", B64(h2),
      R"("],"hashAlgorithmOID":"2.16.840.1.101.3.4.2.1",
         "authData":[{"id":"PIN","value":"123456"},{"id":"PUSH"}],
         "description":"Sign the contract","clientData":"c")")));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->credential_id, "cred-1");
  EXPECT_EQ(r->num_signatures, 2);
  EXPECT_THAT(r->hashes, ElementsAre(h1, h2));
  EXPECT_EQ(r->hash_algorithm, HashAlgorithm::kSha256);
  ASSERT_TRUE(r->auth_data.has_value());
  ASSERT_EQ(r->auth_data->size(), 2u);
  EXPECT_EQ((*r->auth_data)[0].id, "PIN");
  EXPECT_EQ((*r->auth_data)[0].value, "123456");
  EXPECT_EQ((*r->auth_data)[1].id, "PUSH");
  EXPECT_FALSE((*r->auth_data)[1].value.has_value());
  EXPECT_EQ(r->description, "Sign the contract");
}

TEST(CredentialsAuthorizeRequestTest, HashesAndAuthDataAreOptional) {
  auto r = ParseCredentialsAuthorizeRequest(
      AuthorizeBody(R"("numSignatures":3,"authData":[])"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->hashes.empty());
  EXPECT_FALSE(r->hash_algorithm.has_value());
  ASSERT_TRUE(r->auth_data.has_value());
  EXPECT_TRUE(r->auth_data->empty());

  auto none =
      ParseCredentialsAuthorizeRequest(AuthorizeBody(R"("numSignatures":1)"));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->auth_data.has_value());
}

TEST(CredentialsAuthorizeRequestTest, NumSignatures) {
  const std::string missing =
      "Missing (or invalid type) integer parameter numSignatures";
  EXPECT_THAT(
      ErrorOf(ParseCredentialsAuthorizeRequest(R"({"credentialID":"c"})")),
      BadRequest(Eq(missing)));
  for (const char* bad : {"\"1\"", "1.0", "1.5", "true", "[1]"}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(ErrorOf(ParseCredentialsAuthorizeRequest(
                    AuthorizeBody(absl::StrCat("\"numSignatures\":", bad)))),
                BadRequest(Eq(missing)));
  }
  for (const char* bad : {"0", "-1"}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(ErrorOf(ParseCredentialsAuthorizeRequest(
                    AuthorizeBody(absl::StrCat("\"numSignatures\":", bad)))),
                BadRequest(Eq("Invalid value for parameter numSignatures")));
  }
  EXPECT_THAT(ErrorOf(ParseCredentialsAuthorizeRequest(
                  AuthorizeBody(R"("numSignatures":1001)"))),
              BadRequest(Eq("Numbers of signatures is too high")));
  EXPECT_THAT(ErrorOf(ParseCredentialsAuthorizeRequest(
                  AuthorizeBody(R"("numSignatures":18446744073709551615)"))),
              BadRequest(HasSubstr("numSignatures")));
  EXPECT_TRUE(
      ParseCredentialsAuthorizeRequest(AuthorizeBody(R"("numSignatures":1000)"))
          .ok());
}

std::string HashesBody(const std::vector<std::string>& encoded, int num,
                       const std::string& oid = std::string(kOidSha256)) {
  std::vector<std::string> quoted;
  for (const auto& e : encoded) quoted.push_back(absl::StrCat("\"", e, "\""));
  return AuthorizeBody(absl::StrCat("\"numSignatures\":", num, ",\"hashes\":[",
                                    absl::StrJoin(quoted, ","),
                                    "],\"hashAlgorithmOID\":\"", oid, "\""));
}

TEST(CredentialsAuthorizeRequestTest, BadHashes) {
  std::string h = Digest('a');
  EXPECT_THAT(ErrorOf(ParseCredentialsAuthorizeRequest(HashesBody({}, 1))),
              BadRequest(Eq("Empty hash array")));
  EXPECT_THAT(
      ErrorOf(ParseCredentialsAuthorizeRequest(AuthorizeBody(
          absl::StrCat(R"("numSignatures":1,"hashes":"abc",)",
                       R"("hashAlgorithmOID":"2.16.840.1.101.3.4.2.1")")))),
      BadRequest(Eq("Missing (or invalid type) array parameter hashes")));
  EXPECT_THAT(
      ErrorOf(ParseCredentialsAuthorizeRequest(AuthorizeBody(
          absl::StrCat(R"("numSignatures":1,"hashes":[5],)",
                       R"("hashAlgorithmOID":"2.16.840.1.101.3.4.2.1")")))),
      BadRequest(HasSubstr("Invalid parameter hashes: entry 0")));

  // Not base64: bad characters, the url alphabet, no padding, line breaks,
  // non-canonical trailing bits.
  std::string std_b64 = B64(std::string(32, '\xfb'));  // has '+' or '/'
  std::string url_b64 = std_b64;
  for (char& c : url_b64) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  ASSERT_NE(url_b64, std_b64);
  std::string unpadded = B64(h);
  unpadded.pop_back();
  std::string wrapped = B64(h);
  wrapped.insert(20, "\\n");
  // 32 bytes end in "XY Z=": Z carries 4 data bits and 2 spare zero bits;
  // setting a spare bit gives the same bytes in a non-canonical text.
  static constexpr absl::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string noncanonical = B64(h);
  char& last = noncanonical[noncanonical.size() - 2];
  size_t value = kAlphabet.find(last);
  ASSERT_EQ(value % 4, 0u);
  last = kAlphabet[value | 1];
  for (const std::string& bad :
       {std::string("!!!!"), url_b64, unpadded, wrapped, noncanonical}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(ErrorOf(ParseCredentialsAuthorizeRequest(HashesBody({bad}, 1))),
                BadRequest(Eq("Invalid Base64 hash string parameter")));
  }
  // The standard-alphabet form of the same bytes is fine.
  EXPECT_TRUE(ParseCredentialsAuthorizeRequest(HashesBody({std_b64}, 1)).ok());

  // Wrong length for the algorithm.
  EXPECT_THAT(ErrorOf(ParseCredentialsAuthorizeRequest(
                  HashesBody({B64(Digest('a', 48))}, 1))),
              BadRequest(Eq("Invalid digest value length")));
  EXPECT_THAT(ErrorOf(ParseCredentialsAuthorizeRequest(
                  HashesBody({B64(h)}, 1, std::string(kOidSha512)))),
              BadRequest(Eq("Invalid digest value length")));
  EXPECT_TRUE(
      ParseCredentialsAuthorizeRequest(
          HashesBody({B64(Digest('a', 64))}, 1, std::string(kOidSha512)))
          .ok());

  // Duplicates.
  EXPECT_THAT(ErrorOf(ParseCredentialsAuthorizeRequest(
                  HashesBody({B64(h), B64(Digest('b')), B64(h)}, 3))),
              BadRequest(Eq("Invalid parameter hashes: entry 2 repeats an "
                            "earlier hash")));

  // Count against numSignatures.
  EXPECT_THAT(ErrorOf(ParseCredentialsAuthorizeRequest(
                  HashesBody({B64(h), B64(Digest('b'))}, 3))),
              BadRequest(HasSubstr("Invalid parameter numSignatures: it must "
                                   "equal the number of hashes (2)")));

  // Too many.
  std::vector<std::string> many;
  for (size_t i = 0; i <= kMaxHashes; ++i) {
    std::string d(32, '\0');
    d[0] = static_cast<char>(i & 0xff);
    d[1] = static_cast<char>(i >> 8);
    many.push_back(B64(d));
  }
  EXPECT_THAT(
      ErrorOf(ParseCredentialsAuthorizeRequest(HashesBody(many, 1000))),
      BadRequest(Eq("Invalid parameter hashes: more than 1000 hashes")));
  many.pop_back();
  EXPECT_TRUE(ParseCredentialsAuthorizeRequest(HashesBody(many, 1000)).ok());
}

TEST(CredentialsAuthorizeRequestTest, HashAlgorithmOid) {
  std::string h = B64(Digest('a'));
  EXPECT_THAT(
      ErrorOf(ParseCredentialsAuthorizeRequest(AuthorizeBody(
          absl::StrCat(R"("numSignatures":1,"hashes":[")", h, R"("])")))),
      BadRequest(
          Eq("Missing (or invalid type) string parameter hashAlgorithmOID")));
  EXPECT_THAT(
      ErrorOf(ParseCredentialsAuthorizeRequest(
          HashesBody({B64(std::string(20, 'a'))}, 1, "1.3.14.3.2.26"))),
      BadRequest(HasSubstr(
          "Invalid parameter hashAlgorithmOID: SHA-1 is not accepted")));
  EXPECT_THAT(
      ErrorOf(ParseCredentialsAuthorizeRequest(HashesBody({h}, 1, "1.2.3.4"))),
      BadRequest(Eq("Invalid parameter hashAlgorithmOID: unsupported "
                    "hash algorithm 1.2.3.4")));
  EXPECT_THAT(
      ErrorOf(ParseCredentialsAuthorizeRequest(HashesBody({h}, 1, "sha256"))),
      BadRequest(Eq("Invalid parameter hashAlgorithmOID: not an OID")));
}

TEST(CredentialsAuthorizeRequestTest, BadAuthData) {
  auto parse = [](const std::string& auth_data) {
    return ParseCredentialsAuthorizeRequest(AuthorizeBody(
        absl::StrCat(R"("numSignatures":1,"authData":)", auth_data)));
  };
  EXPECT_THAT(
      ErrorOf(parse(R"({"id":"PIN"})")),
      BadRequest(Eq("Missing (or invalid type) array parameter authData")));
  EXPECT_THAT(ErrorOf(parse(R"(["PIN"])")),
              BadRequest(Eq("Invalid parameter authData[0]: not an object")));
  EXPECT_THAT(
      ErrorOf(parse(R"([{"value":"1"}])")),
      BadRequest(
          Eq("Missing (or invalid type) string parameter authData[0].id")));
  EXPECT_THAT(ErrorOf(parse(R"([{"id":"PIN","value":123456}])")),
              BadRequest(Eq("Missing (or invalid type) string parameter "
                            "authData[0].value")));
  EXPECT_THAT(ErrorOf(parse(R"([{"id":"PIN"},{"id":"PIN","value":"1"}])")),
              BadRequest(Eq("Invalid parameter authData: entry 1 repeats an "
                            "earlier id")));
  // An over-long value is refused without echoing it.
  auto long_value = parse(
      absl::StrCat(R"([{"id":"PIN","value":")",
                   std::string(kMaxAuthDataValueBytes + 1, '7'), R"("}])"));
  EXPECT_THAT(ErrorOf(long_value),
              BadRequest(AllOf(HasSubstr("authData[0].value"),
                               Not(HasSubstr("7777")))));
  std::vector<std::string> entries;
  for (size_t i = 0; i <= kMaxAuthDataEntries; ++i) {
    entries.push_back(absl::StrCat(R"({"id":"o)", i, R"("})"));
  }
  EXPECT_THAT(
      ErrorOf(parse(absl::StrCat("[", absl::StrJoin(entries, ","), "]"))),
      BadRequest(HasSubstr("Invalid parameter authData: more than")));
}

TEST(CredentialsAuthorizeRequestTest, DescriptionCountsCharacters) {
  std::string kanji;  // 500 three-byte characters: 1500 bytes
  for (int i = 0; i < 500; ++i) kanji += "\xe7\xbd\xb2";
  EXPECT_TRUE(ParseCredentialsAuthorizeRequest(
                  AuthorizeBody(absl::StrCat(
                      R"("numSignatures":1,"description":")", kanji, "\"")))
                  .ok());
  EXPECT_THAT(
      ErrorOf(ParseCredentialsAuthorizeRequest(AuthorizeBody(
          absl::StrCat(R"("numSignatures":1,"description":")", kanji, "x\"")))),
      BadRequest(Eq("Invalid parameter description: longer than 500 "
                    "characters")));
}

// ---------------------------------------------------------------------------
// signatures/signHash
// ---------------------------------------------------------------------------

std::string SignHashBody(const std::string& rest) {
  return absl::StrCat(R"({"credentialID":"cred-1","SAD":"sad-1",)", rest, "}");
}

TEST(SignHashRequestTest, GoodEcdsa) {
  std::string h1 = Digest('a'), h2 = Digest('b');
  auto r = ParseSignHashRequest(SignHashBody(
      absl::StrCat(R"("hashes":[")", B64(h1), R"(",")", B64(h2),
                   R"("],"signAlgo":"1.2.840.10045.4.3.2","operationMode":"S",
         "clientData":"c")")));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->credential_id, "cred-1");
  EXPECT_EQ(r->sad, "sad-1");
  EXPECT_THAT(r->hashes, ElementsAre(h1, h2));
  EXPECT_EQ(r->sign_algo, kOidEcdsaSha256);
  EXPECT_EQ(r->hash, HashAlgorithm::kSha256);
  EXPECT_FALSE(r->sign_algo_params.has_value());
  EXPECT_FALSE(r->hash_algorithm_oid.has_value());

  auto scheme = ResolveSignAlgo(*r, KeyAlgorithm::kEcP256);
  ASSERT_TRUE(scheme.ok()) << scheme.status();
  EXPECT_EQ(scheme->key, KeyAlgorithm::kEcP256);
  EXPECT_EQ(scheme->hash, HashAlgorithm::kSha256);
  EXPECT_THAT(ErrorOf(ResolveSignAlgo(*r, KeyAlgorithm::kRsa2048)),
              BadRequest(HasSubstr("does not fit the credential's rsa-2048")));
}

TEST(SignHashRequestTest, GoodPssWithParams) {
  std::string params = OpenSslPssDer({NID_sha384, NID_sha384, NID_mgf1, 48});
  auto r = ParseSignHashRequest(absl::StrCat(
      R"({"credentialID":"c","hashes":[")", B64(Digest('a', 48)),
      R"("],"signAlgo":"1.2.840.113549.1.1.10","signAlgoParams":")",
      B64(params), R"("})"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->sad.has_value());  // a credential-scope token may stand in
  EXPECT_EQ(r->sign_algo_params, params);
  EXPECT_EQ(r->hash, HashAlgorithm::kSha384);
  auto scheme = ResolveSignAlgo(*r, KeyAlgorithm::kRsa3072);
  ASSERT_TRUE(scheme.ok()) << scheme.status();
  EXPECT_EQ(scheme->padding, RsaPadding::kPss);
  EXPECT_EQ(scheme->hash, HashAlgorithm::kSha384);
}

TEST(SignHashRequestTest, RequiredFields) {
  std::string h = B64(Digest('a'));
  EXPECT_THAT(
      ErrorOf(ParseSignHashRequest(absl::StrCat(
          R"({"hashes":[")", h, R"("],"signAlgo":"1.2.840.10045.4.3.2"})"))),
      BadRequest(
          Eq("Missing (or invalid type) string parameter credentialID")));
  EXPECT_THAT(
      ErrorOf(ParseSignHashRequest(
          SignHashBody(R"("signAlgo":"1.2.840.10045.4.3.2")"))),
      BadRequest(Eq("Missing (or invalid type) array parameter hashes")));
  EXPECT_THAT(ErrorOf(ParseSignHashRequest(SignHashBody(
                  R"("hashes":[],"signAlgo":"1.2.840.10045.4.3.2")"))),
              BadRequest(Eq("Empty hash array")));
  EXPECT_THAT(
      ErrorOf(ParseSignHashRequest(
          SignHashBody(absl::StrCat(R"("hashes":[")", h, R"("])")))),
      BadRequest(Eq("Missing (or invalid type) string parameter signAlgo")));
  EXPECT_THAT(ErrorOf(ParseSignHashRequest(
                  absl::StrCat(R"({"credentialID":"c","SAD":5,"hashes":[")", h,
                               R"("],"signAlgo":"1.2.840.10045.4.3.2"})"))),
              BadRequest(Eq("Missing (or invalid type) string parameter SAD")));
  EXPECT_THAT(ErrorOf(ParseSignHashRequest(absl::StrCat(
                  R"({"credentialID":"c","SAD":")",
                  std::string(kMaxTokenBytes + 1, 's'), R"(","hashes":[")", h,
                  R"("],"signAlgo":"1.2.840.10045.4.3.2"})"))),
              BadRequest(HasSubstr("Invalid parameter SAD: longer than")));
}

TEST(SignHashRequestTest, OperationMode) {
  std::string base = absl::StrCat(R"("hashes":[")", B64(Digest('a')),
                                  R"("],"signAlgo":"1.2.840.10045.4.3.2",)");
  EXPECT_TRUE(
      ParseSignHashRequest(SignHashBody(base + R"("operationMode":"S")")).ok());
  EXPECT_THAT(
      ErrorOf(
          ParseSignHashRequest(SignHashBody(base + R"("operationMode":"A")"))),
      BadRequest(Eq("Invalid parameter operationMode: asynchronous operation "
                    "(A) is not supported; use S")));
  for (const char* bad : {R"("s")", R"("X")", R"("")"}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(ErrorOf(ParseSignHashRequest(
                    SignHashBody(base + "\"operationMode\":" + bad))),
                BadRequest(Eq("Invalid parameter operationMode: use S")));
  }
  EXPECT_THAT(ErrorOf(ParseSignHashRequest(
                  SignHashBody(base + R"("operationMode":1)"))),
              BadRequest(Eq(
                  "Missing (or invalid type) string parameter operationMode")));
}

TEST(SignHashRequestTest, HashesMustFitTheSignAlgo) {
  // ecdsa-with-SHA384 implies 48-byte digests.
  EXPECT_THAT(ErrorOf(ParseSignHashRequest(SignHashBody(
                  absl::StrCat(R"("hashes":[")", B64(Digest('a')),
                               R"("],"signAlgo":"1.2.840.10045.4.3.3")")))),
              BadRequest(Eq("Invalid digest value length")));
  // rsaEncryption takes the hash from hashAlgorithmOID.
  auto r = ParseSignHashRequest(
      SignHashBody(absl::StrCat(R"("hashes":[")", B64(Digest('a', 64)),
                                R"("],"signAlgo":"1.2.840.113549.1.1.1",
         "hashAlgorithmOID":"2.16.840.1.101.3.4.2.3")")));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->hash, HashAlgorithm::kSha512);
  EXPECT_EQ(r->hash_algorithm_oid, kOidSha512);
  EXPECT_THAT(
      ErrorOf(ParseSignHashRequest(SignHashBody(
          absl::StrCat(R"("hashes":[")", B64(Digest('a')),
                       R"("],"signAlgo":"1.2.840.113549.1.1.1")")))),
      BadRequest(
          Eq("Missing (or invalid type) string parameter hashAlgorithmOID")));
  // A contradicting hashAlgorithmOID.
  EXPECT_THAT(ErrorOf(ParseSignHashRequest(SignHashBody(
                  absl::StrCat(R"("hashes":[")", B64(Digest('a')),
                               R"("],"signAlgo":"1.2.840.10045.4.3.2",
                     "hashAlgorithmOID":"2.16.840.1.101.3.4.2.2")")))),
              BadRequest(Eq("String parameter hashAlgorithmOID contradicts "
                            "with signAlgo parameter")));
  // Duplicates.
  EXPECT_THAT(
      ErrorOf(ParseSignHashRequest(SignHashBody(absl::StrCat(
          R"("hashes":[")", B64(Digest('a')), R"(",")", B64(Digest('a')),
          R"("],"signAlgo":"1.2.840.10045.4.3.2")")))),
      BadRequest(HasSubstr("repeats an earlier hash")));
  // signAlgoParams that are not base64.
  EXPECT_THAT(ErrorOf(ParseSignHashRequest(SignHashBody(
                  absl::StrCat(R"("hashes":[")", B64(Digest('a')),
                               R"("],"signAlgo":"1.2.840.113549.1.1.10",
                     "signAlgoParams":"not base64!")")))),
              BadRequest(Eq("Invalid parameter signAlgoParams: not base64")));
  // Unknown signAlgo.
  EXPECT_THAT(ErrorOf(ParseSignHashRequest(SignHashBody(
                  absl::StrCat(R"("hashes":[")", B64(Digest('a')),
                               R"("],"signAlgo":"1.3.101.113")")))),
              BadRequest(Eq("Invalid parameter signAlgo: unsupported "
                            "algorithm 1.3.101.113")));
}

// ---------------------------------------------------------------------------
// OIDs
// ---------------------------------------------------------------------------

TEST(OidTest, HashAlgorithmOids) {
  for (HashAlgorithm h : {HashAlgorithm::kSha256, HashAlgorithm::kSha384,
                          HashAlgorithm::kSha512}) {
    auto back = ParseHashAlgorithmOid(HashAlgorithmOid(h));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, h);
  }
  EXPECT_EQ(HashAlgorithmOid(HashAlgorithm::kSha384), "2.16.840.1.101.3.4.2.2");
  EXPECT_THAT(ErrorOf(ParseHashAlgorithmOid("1.3.14.3.2.26")),
              BadRequest(HasSubstr("SHA-1")));
  EXPECT_THAT(ErrorOf(ParseHashAlgorithmOid("2.16.840.1.101.3.4.2.4")),
              BadRequest(HasSubstr("SHA-224")));
  EXPECT_THAT(ErrorOf(ParseHashAlgorithmOid("2.16.840.1.101.3.4.2.8")),
              BadRequest(HasSubstr("SHA-3")));
  for (const char* bad : {"", "1..2", ".1", "1.", "1.2.a", "sha256"}) {
    EXPECT_THAT(ErrorOf(ParseHashAlgorithmOid(bad)),
                BadRequest(HasSubstr("hashAlgorithmOID: not an OID")))
        << bad;
  }
}

struct ResolveCase {
  std::string name;
  std::string sign_algo;
  std::string params_der;
  std::string hash_oid;
  KeyAlgorithm key;
  // Either a scheme ...
  bool ok;
  HashAlgorithm hash = HashAlgorithm::kSha256;
  RsaPadding padding = RsaPadding::kPkcs1;
  // ... or an error description fragment.
  std::string error;
};

std::vector<ResolveCase> ResolveCases() {
  const std::string sha256(kOidSha256), sha384(kOidSha384), sha512(kOidSha512);
  const std::string pss256 =
      OpenSslPssDer({NID_sha256, NID_sha256, NID_mgf1, 32});
  const std::string pss512 =
      OpenSslPssDer({NID_sha512, NID_sha512, NID_mgf1, 64});
  const KeyAlgorithm rsa2 = KeyAlgorithm::kRsa2048,
                     rsa3 = KeyAlgorithm::kRsa3072,
                     rsa4 = KeyAlgorithm::kRsa4096,
                     p256 = KeyAlgorithm::kEcP256, p384 = KeyAlgorithm::kEcP384,
                     ed = KeyAlgorithm::kEd25519;
  const std::string rsa(kOidRsaEncryption), pss(kOidRsassaPss),
      ec(kOidEcPublicKey), ed_oid(kOidEd25519);
  using H = HashAlgorithm;
  using P = RsaPadding;
  return {
      // rsaEncryption + hashAlgorithmOID
      {"rsaEncryption+sha384", rsa, "", sha384, rsa2, true, H::kSha384},
      {"rsaEncryption no hash",
       rsa,
       "",
       "",
       rsa2,
       false,
       {},
       {},
       "Missing (or invalid type) string parameter hashAlgorithmOID"},
      {"rsaEncryption on p256",
       rsa,
       "",
       sha256,
       p256,
       false,
       {},
       {},
       "RSA PKCS#1 v1.5 does not fit the credential's ec-p256 key"},
      // shaNNNWithRSAEncryption
      {"sha256WithRSA", std::string(kOidSha256WithRsa), "", "", rsa3, true,
       H::kSha256},
      {"sha384WithRSA", std::string(kOidSha384WithRsa), "", "", rsa4, true,
       H::kSha384},
      {"sha512WithRSA + same hash", std::string(kOidSha512WithRsa), "", sha512,
       rsa2, true, H::kSha512},
      {"sha512WithRSA + other hash",
       std::string(kOidSha512WithRsa),
       "",
       sha256,
       rsa2,
       false,
       {},
       {},
       "contradicts with signAlgo"},
      {"sha256WithRSA + DER NULL params", std::string(kOidSha256WithRsa),
       std::string("\x05\x00", 2), "", rsa2, true, H::kSha256},
      {"sha256WithRSA on ed25519",
       std::string(kOidSha256WithRsa),
       "",
       "",
       ed,
       false,
       {},
       {},
       "does not fit the credential's ed25519 key"},
      {"sha1WithRSA",
       "1.2.840.113549.1.1.5",
       "",
       "",
       rsa2,
       false,
       {},
       {},
       "SHA-1 schemes are not accepted"},
      {"sha224WithRSA",
       "1.2.840.113549.1.1.14",
       "",
       "",
       rsa2,
       false,
       {},
       {},
       "SHA-224 schemes are not accepted"},
      // RSASSA-PSS
      {"pss params sha256", pss, pss256, "", rsa2, true, H::kSha256, P::kPss},
      {"pss params sha512 + same hash oid", pss, pss512, sha512, rsa4, true,
       H::kSha512, P::kPss},
      {"pss params sha384", pss,
       OpenSslPssDer({NID_sha384, NID_sha384, NID_mgf1, 48}), "", rsa3, true,
       H::kSha384, P::kPss},
      {"pss params + contradicting hash oid",
       pss,
       pss256,
       sha384,
       rsa2,
       false,
       {},
       {},
       "contradicts with signAlgo"},
      {"pss without params, hash oid", pss, "", sha384, rsa2, true, H::kSha384,
       P::kPss},
      {"pss without params or hash",
       pss,
       "",
       "",
       rsa2,
       false,
       {},
       {},
       "Missing (or invalid type) string parameter signAlgoParams"},
      {"pss salt 20",
       pss,
       OpenSslPssDer({NID_sha256, NID_sha256, NID_mgf1, 20}),
       "",
       rsa2,
       false,
       {},
       {},
       "saltLength must be 32 (the hash length)"},
      {"pss salt absent",
       pss,
       OpenSslPssDer({NID_sha256, NID_sha256, NID_mgf1, -1}),
       "",
       rsa2,
       false,
       {},
       {},
       "saltLength must be 32"},
      {"pss mgf1 other hash",
       pss,
       OpenSslPssDer({NID_sha256, NID_sha512, NID_mgf1, 32}),
       "",
       rsa2,
       false,
       {},
       {},
       "the MGF1 hash must be the same as hashAlgorithm"},
      {"pss hash sha1",
       pss,
       OpenSslPssDer({NID_sha1, NID_sha1, NID_mgf1, 20}),
       "",
       rsa2,
       false,
       {},
       {},
       "hashAlgorithm is SHA-1"},
      {"pss hash absent",
       pss,
       OpenSslPssDer({0, NID_sha256, NID_mgf1, 32}),
       "",
       rsa2,
       false,
       {},
       {},
       "hashAlgorithm is absent"},
      {"pss mgf not mgf1",
       pss,
       OpenSslPssDer({NID_sha256, NID_sha256, NID_sha256, 32}),
       "",
       rsa2,
       false,
       {},
       {},
       "maskGenAlgorithm is not MGF1"},
      {"pss trailer 2",
       pss,
       OpenSslPssDer({NID_sha256, NID_sha256, NID_mgf1, 32, 2}),
       "",
       rsa2,
       false,
       {},
       {},
       "trailerField must be 1"},
      {"pss trailing bytes",
       pss,
       pss256 + std::string("\x00", 1),
       "",
       rsa2,
       false,
       {},
       {},
       "not DER RSASSA-PSS-params"},
      {"pss garbage",
       pss,
       "\x30\x03\x01\x02",
       "",
       rsa2,
       false,
       {},
       {},
       "not DER RSASSA-PSS-params"},
      {"pss on p384",
       pss,
       pss256,
       "",
       p384,
       false,
       {},
       {},
       "RSASSA-PSS does not fit the credential's ec-p384 key"},
      // ECDSA
      {"ecdsa-sha256 on p256", std::string(kOidEcdsaSha256), "", "", p256, true,
       H::kSha256},
      {"ecdsa-sha512 on p256", std::string(kOidEcdsaSha512), "", "", p256, true,
       H::kSha512},
      {"ecdsa-sha384 on p384", std::string(kOidEcdsaSha384), "", "", p384, true,
       H::kSha384},
      {"ecdsa-sha256 on p384",
       std::string(kOidEcdsaSha256),
       "",
       "",
       p384,
       false,
       {},
       {},
       "ECDSA with SHA-256 is not offered for ec-p384 keys"},
      {"ecdsa on rsa",
       std::string(kOidEcdsaSha256),
       "",
       "",
       rsa2,
       false,
       {},
       {},
       "ECDSA does not fit the credential's rsa-2048 key"},
      {"ecdsa with params",
       std::string(kOidEcdsaSha256),
       pss256,
       "",
       p256,
       false,
       {},
       {},
       "only RSASSA-PSS takes parameters"},
      {"id-ecPublicKey + sha512 on p384", ec, "", sha512, p384, true,
       H::kSha512},
      {"id-ecPublicKey + sha256 on p256", ec, "", sha256, p256, true,
       H::kSha256},
      {"id-ecPublicKey no hash",
       ec,
       "",
       "",
       p256,
       false,
       {},
       {},
       "Missing (or invalid type) string parameter hashAlgorithmOID"},
      {"ecdsa-with-SHA1",
       "1.2.840.10045.4.1",
       "",
       "",
       p256,
       false,
       {},
       {},
       "SHA-1 schemes are not accepted"},
      {"ecdsa-with-SHA224",
       "1.2.840.10045.4.3.1",
       "",
       "",
       p256,
       false,
       {},
       {},
       "SHA-224 schemes are not accepted"},
      // Ed25519
      {"ed25519 + sha512", ed_oid, "", sha512, ed, true, H::kSha512},
      {"ed25519 no hash",
       ed_oid,
       "",
       "",
       ed,
       false,
       {},
       {},
       "Missing (or invalid type) string parameter hashAlgorithmOID"},
      {"ed25519 on p256",
       ed_oid,
       "",
       sha256,
       p256,
       false,
       {},
       {},
       "Ed25519 does not fit the credential's ec-p256 key"},
      // Others
      {"empty signAlgo",
       "",
       "",
       sha256,
       rsa2,
       false,
       {},
       {},
       "Missing (or invalid type) string parameter signAlgo"},
      {"unknown OID",
       "1.2.3.4",
       "",
       sha256,
       rsa2,
       false,
       {},
       {},
       "unsupported algorithm 1.2.3.4"},
      {"not an OID",
       "RS256",
       "",
       "",
       rsa2,
       false,
       {},
       {},
       "Invalid parameter signAlgo: not an OID"},
      {"SHA-1 hash oid",
       rsa,
       "",
       "1.3.14.3.2.26",
       rsa2,
       false,
       {},
       {},
       "SHA-1 is not accepted"},
  };
}

TEST(OidTest, ResolveSignAlgoTable) {
  for (const ResolveCase& c : ResolveCases()) {
    SCOPED_TRACE(c.name);
    auto r = ResolveSignAlgo(c.sign_algo, c.params_der, c.hash_oid, c.key);
    if (c.ok) {
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(r->key, c.key);
      EXPECT_EQ(r->hash, c.hash);
      EXPECT_EQ(r->padding, c.padding);
    } else {
      EXPECT_THAT(ErrorOf(r), BadRequest(HasSubstr(c.error)));
    }
  }
}

TEST(OidTest, PssParamsDerMatchesOpenSslAndTheReference) {
  EXPECT_EQ(PssParamsDer(HashAlgorithm::kSha256),
            OpenSslPssDer({NID_sha256, NID_sha256, NID_mgf1, 32}));
  EXPECT_EQ(PssParamsDer(HashAlgorithm::kSha384),
            OpenSslPssDer({NID_sha384, NID_sha384, NID_mgf1, 48}));
  EXPECT_EQ(PssParamsDer(HashAlgorithm::kSha512),
            OpenSslPssDer({NID_sha512, NID_sha512, NID_mgf1, 64}));
  // The values the CSC reference notes list (§6).
  EXPECT_EQ(B64(PssParamsDer(HashAlgorithm::kSha256)),
            "MDSgDzANBglghkgBZQMEAgEFAKEcMBoGCSqGSIb3DQEBCDANBglghkgBZQMEAgEF"
            "AKIDAgEg");
  EXPECT_EQ(B64(PssParamsDer(HashAlgorithm::kSha384)),
            "MDSgDzANBglghkgBZQMEAgIFAKEcMBoGCSqGSIb3DQEBCDANBglghkgBZQMEAgIF"
            "AKIDAgEw");
  EXPECT_EQ(B64(PssParamsDer(HashAlgorithm::kSha512)),
            "MDSgDzANBglghkgBZQMEAgMFAKEcMBoGCSqGSIb3DQEBCDANBglghkgBZQMEAgMF"
            "AKIDAgFA");
  // Hash parameters absent instead of NULL are accepted too (RFC 4055).
  std::string absent_null =
      "\x30\x30\xa0\x0d\x30\x0b\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01"
      "\xa1\x1a\x30\x18\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x08\x30\x0b"
      "\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\xa2\x03\x02\x01\x20";
  auto r = ParseSignAlgo(kOidRsassaPss, absent_null, "");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, (SignAlgo{SignFamily::kRsaPss, HashAlgorithm::kSha256}));
  // A non-minimal (BER) length is not DER.
  std::string ber = PssParamsDer(HashAlgorithm::kSha256);
  ber.replace(0, 2, std::string("\x30\x81\x34", 3));
  EXPECT_THAT(ErrorOf(ParseSignAlgo(kOidRsassaPss, ber, "")),
              BadRequest(HasSubstr("not DER")));
}

TEST(OidTest, KeyAlgoOidsAreExactlyWhatResolves) {
  const std::vector<KeyAlgorithm> keys = {
      KeyAlgorithm::kEcP256,  KeyAlgorithm::kEcP384,  KeyAlgorithm::kRsa2048,
      KeyAlgorithm::kRsa3072, KeyAlgorithm::kRsa4096, KeyAlgorithm::kEd25519};
  std::set<std::string> all;
  for (KeyAlgorithm k : keys) {
    for (const std::string& oid : KeyAlgoOids(k)) all.insert(oid);
  }
  EXPECT_EQ(all.size(), 10u);
  const std::vector<std::string> hash_oids = {"", std::string(kOidSha256),
                                              std::string(kOidSha384),
                                              std::string(kOidSha512)};
  for (KeyAlgorithm k : keys) {
    std::vector<std::string> listed = KeyAlgoOids(k);
    ASSERT_FALSE(listed.empty());
    std::set<std::string> mine(listed.begin(), listed.end());
    for (const std::string& oid : all) {
      SCOPED_TRACE(absl::StrCat(crypto::KeyAlgorithmName(k), " ", oid));
      bool resolves = false;
      for (const std::string& h : hash_oids) {
        resolves = resolves || ResolveSignAlgo(oid, "", h, k).ok();
      }
      EXPECT_EQ(resolves, mine.count(oid) == 1);
    }
  }
  EXPECT_EQ(KeyAlgoOids(KeyAlgorithm::kRsa2048).front(), kOidSha256WithRsa);
  EXPECT_EQ(KeyAlgoOids(KeyAlgorithm::kEcP384).front(), kOidEcdsaSha384);
  EXPECT_THAT(KeyAlgoOids(KeyAlgorithm::kEd25519),
              ElementsAre(std::string(kOidEd25519)));
}

TEST(OidTest, KeyFacts) {
  EXPECT_EQ(KeyLengthBits(KeyAlgorithm::kRsa3072), 3072);
  EXPECT_EQ(KeyLengthBits(KeyAlgorithm::kEcP384), 384);
  EXPECT_EQ(CurveOid(KeyAlgorithm::kEcP256), "1.2.840.10045.3.1.7");
  EXPECT_EQ(CurveOid(KeyAlgorithm::kEcP384), "1.3.132.0.34");
  EXPECT_EQ(CurveOid(KeyAlgorithm::kRsa2048), "");
  EXPECT_EQ(CurveOid(KeyAlgorithm::kEd25519), "");
}

// ---------------------------------------------------------------------------
// oauth2/token, revoke
// ---------------------------------------------------------------------------

const char kVerifier[] = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

TEST(TokenRequestTest, AuthorizationCode) {
  auto r = ParseTokenRequest(absl::StrCat(
      "grant_type=authorization_code&code=c0de&client_id=app&client_secret="
      "s+3%2Fx&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&code_verifier=",
      kVerifier));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->grant_type, GrantType::kAuthorizationCode);
  EXPECT_EQ(r->code, "c0de");
  EXPECT_EQ(r->client_id, "app");
  EXPECT_EQ(r->client_secret, "s 3/x");
  EXPECT_EQ(r->redirect_uri, "https://app.example/cb");
  EXPECT_EQ(r->code_verifier, kVerifier);
  EXPECT_FALSE(r->refresh_token.has_value());
}

TEST(TokenRequestTest, RefreshToken) {
  auto r = ParseTokenRequest(
      "grant_type=refresh_token&refresh_token=rt&"
      "client_id=app");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->grant_type, GrantType::kRefreshToken);
  EXPECT_EQ(r->refresh_token, "rt");
  EXPECT_THAT(
      ErrorOf(ParseTokenRequest("grant_type=refresh_token&client_id=a")),
      BadRequest(Eq("Missing parameter refresh_token")));
}

TEST(TokenRequestTest, Bad) {
  const std::string good_tail =
      absl::StrCat("&code=c&client_id=app&code_verifier=", kVerifier);
  EXPECT_THAT(ErrorOf(ParseTokenRequest(good_tail.substr(1))),
              BadRequest(Eq("Missing parameter grant_type")));
  EXPECT_THAT(
      ErrorOf(ParseTokenRequest("grant_type=client_credentials" + good_tail)),
      BadRequest(Eq("Invalid parameter grant_type")));
  EXPECT_THAT(
      ErrorOf(ParseTokenRequest(absl::StrCat(
          "grant_type=authorization_code&code=c&code_verifier=", kVerifier))),
      BadRequest(Eq("Missing parameter client_id")));
  EXPECT_THAT(ErrorOf(ParseTokenRequest(absl::StrCat(
                  "grant_type=authorization_code&client_id=a&code_verifier=",
                  kVerifier))),
              BadRequest(Eq("Missing parameter code")));
  // An empty value counts as absent.
  EXPECT_THAT(ErrorOf(ParseTokenRequest(absl::StrCat(
                  "grant_type=authorization_code&code=&client_id=a&"
                  "code_verifier=",
                  kVerifier))),
              BadRequest(Eq("Missing parameter code")));
  EXPECT_THAT(ErrorOf(ParseTokenRequest(
                  "grant_type=authorization_code&code=c&client_id=a")),
              BadRequest(Eq("Missing parameter code_verifier")));
  EXPECT_THAT(ErrorOf(ParseTokenRequest(
                  "grant_type=authorization_code&code=c&client_id=a&"
                  "code_verifier=short")),
              BadRequest(HasSubstr("Invalid parameter code_verifier")));
  EXPECT_THAT(ErrorOf(ParseTokenRequest("grant_type=authorization_code" +
                                        good_tail + "&code=d")),
              BadRequest(Eq("Repeated parameter code")));
  EXPECT_THAT(ErrorOf(ParseTokenRequest(
                  "grant_type=authorization_code&code=%zz" + good_tail)),
              BadRequest(Eq("Invalid parameter code: malformed "
                            "percent-encoding")));
  EXPECT_THAT(ErrorOf(ParseTokenRequest("grant_type=authorization_code" +
                                        good_tail + "&client_secret=a%FFb")),
              BadRequest(Eq("Invalid parameter client_secret: not UTF-8")));
  EXPECT_THAT(ErrorOf(ParseTokenRequest("grant_type=authorization_code" +
                                        good_tail + "&client_secret=%")),
              BadRequest(HasSubstr("malformed percent-encoding")));
}

TEST(RevokeRequestTest, Json) {
  auto r = ParseAuthRevokeRequest(
      R"({"token":"tok","token_type_hint":"refresh_token","clientData":"x"})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->token, "tok");
  EXPECT_EQ(r->token_type_hint, TokenTypeHint::kRefreshToken);
  EXPECT_THAT(
      ErrorOf(ParseAuthRevokeRequest("{}")),
      BadRequest(Eq("Missing (or invalid type) string parameter token")));
  EXPECT_THAT(ErrorOf(ParseAuthRevokeRequest(
                  R"({"token":"t","token_type_hint":"id_token"})")),
              BadRequest(HasSubstr("Invalid parameter token_type_hint")));
}

TEST(RevokeRequestTest, Form) {
  auto r = ParseOAuth2RevokeRequest(
      "token=tok&token_type_hint=access_token&client_id=app&client_secret=s");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->token, "tok");
  EXPECT_EQ(r->token_type_hint, TokenTypeHint::kAccessToken);
  EXPECT_EQ(r->client_id, "app");
  EXPECT_EQ(r->client_secret, "s");
  EXPECT_THAT(ErrorOf(ParseOAuth2RevokeRequest("client_id=app")),
              BadRequest(Eq("Missing parameter token")));
  EXPECT_THAT(ErrorOf(ParseOAuth2RevokeRequest("token=a&token=b")),
              BadRequest(Eq("Repeated parameter token")));
}

// ---------------------------------------------------------------------------
// oauth2/authorize
// ---------------------------------------------------------------------------

// base64url(SHA-256(kVerifier)), RFC 7636 Appendix B.
const char kChallenge[] = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

std::vector<std::pair<std::string, std::string>> ServiceQuery() {
  return {{"response_type", "code"},
          {"client_id", "app"},
          {"redirect_uri", "https://app.example/cb?x=1"},
          {"scope", "service"},
          {"code_challenge", kChallenge},
          {"code_challenge_method", "S256"},
          {"state", "st 1"}};
}

std::vector<std::pair<std::string, std::string>> CredentialQuery(
    const std::vector<std::string>& digests) {
  auto q = ServiceQuery();
  q[3].second = "credential";
  std::vector<std::string> enc;
  for (const auto& d : digests) enc.push_back(B64Url(d));
  q.push_back({"credentialID", "cred-1"});
  q.push_back({"numSignatures", absl::StrCat(digests.size())});
  q.push_back({"hashes", absl::StrJoin(enc, ",")});
  q.push_back({"hashAlgorithmOID", std::string(kOidSha256)});
  q.push_back({"description", "Contract, 2 pages"});
  q.push_back({"lang", "ja-JP"});
  return q;
}

absl::StatusOr<AuthorizeRequest> Authorize(
    std::vector<std::pair<std::string, std::string>> q,
    const std::string& drop = "",
    std::vector<std::pair<std::string, std::string>> add = {}) {
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& p : q) {
    if (p.first != drop) out.push_back(p);
  }
  for (auto& p : add) {
    bool replaced = false;
    for (auto& o : out) {
      if (o.first == p.first) {
        o.second = p.second;
        replaced = true;
      }
    }
    if (!replaced) out.push_back(p);
  }
  return ParseAuthorizeQuery(FormEncode(out));
}

TEST(AuthorizeQueryTest, ServiceScope) {
  auto r = Authorize(ServiceQuery());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->client_id, "app");
  EXPECT_EQ(r->redirect_uri, "https://app.example/cb?x=1");
  EXPECT_EQ(r->scope, Scope::kService);
  EXPECT_EQ(r->code_challenge, kChallenge);
  EXPECT_EQ(r->state, "st 1");
  EXPECT_TRUE(r->hashes.empty());

  // scope defaults to service; a leading '?' is skipped.
  auto q = ServiceQuery();
  q.erase(q.begin() + 3);
  auto d = ParseAuthorizeQuery("?" + FormEncode(q));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->scope, Scope::kService);
}

TEST(AuthorizeQueryTest, CredentialScope) {
  std::string h1 = Digest('a'), h2 = std::string(32, '\xfb');
  std::string label1 = "契約書.pdf", label2 = "Annex, v2.";  // 10 bytes
  auto r = Authorize(CredentialQuery({h1, h2}), "",
                     {{"documentLabels", absl::StrCat(B64Url(label1), ",",
                                                      B64Url(label2), "==")}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->scope, Scope::kCredential);
  EXPECT_EQ(r->credential_id, "cred-1");
  EXPECT_EQ(r->num_signatures, 2);
  EXPECT_THAT(r->hashes, ElementsAre(h1, h2));
  EXPECT_EQ(r->hash_algorithm, HashAlgorithm::kSha256);
  EXPECT_THAT(r->document_labels, ElementsAre(label1, label2));
  EXPECT_EQ(r->description, "Contract, 2 pages");
  EXPECT_EQ(r->lang, "ja-JP");

  // Padded base64url hashes are accepted as well.
  std::string padded = B64Url(h1) + "=";
  auto p = ParseAuthorizeQuery(absl::StrCat(
      "response_type=code&client_id=a&scope=credential&code_challenge=",
      kChallenge,
      "&code_challenge_method=S256&credentialID=c&numSignatures=1&hashes=",
      padded, "&hashAlgorithmOID=", kOidSha256));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_THAT(p->hashes, ElementsAre(h1));
}

TEST(AuthorizeQueryTest, ResponseTypeScopeAndPkce) {
  EXPECT_THAT(ErrorOf(Authorize(ServiceQuery(), "response_type")),
              BadRequest(Eq("Missing parameter response_type")));
  EXPECT_THAT(
      ErrorOf(Authorize(ServiceQuery(), "", {{"response_type", "token"}})),
      IsError(400, "unsupported_response_type", HasSubstr("code")));
  EXPECT_THAT(ErrorOf(Authorize(ServiceQuery(), "client_id")),
              BadRequest(Eq("Missing parameter client_id")));
  EXPECT_THAT(ErrorOf(Authorize(ServiceQuery(), "", {{"scope", "openid"}})),
              IsError(400, "invalid_scope", Eq("Invalid parameter scope")));
  EXPECT_THAT(
      ErrorOf(Authorize(ServiceQuery(), "", {{"scope", "service credential"}})),
      IsError(400, "invalid_scope", Eq("Invalid parameter scope")));
  EXPECT_THAT(ErrorOf(Authorize(ServiceQuery(), "code_challenge")),
              BadRequest(Eq("Missing parameter code_challenge")));
  EXPECT_THAT(ErrorOf(Authorize(ServiceQuery(), "",
                                {{"code_challenge_method", "plain"}})),
              BadRequest(HasSubstr("Invalid parameter code_challenge_method: "
                                   "only S256")));
  EXPECT_THAT(ErrorOf(Authorize(ServiceQuery(), "code_challenge_method")),
              BadRequest(HasSubstr("code_challenge_method")));
  EXPECT_THAT(
      ErrorOf(Authorize(ServiceQuery(), "", {{"code_challenge", "abc"}})),
      BadRequest(HasSubstr("Invalid parameter code_challenge")));
  EXPECT_THAT(
      ErrorOf(Authorize(ServiceQuery(), "",
                        {{"code_challenge", kVerifier + std::string("+")}})),
      BadRequest(HasSubstr("Invalid parameter code_challenge")));
  EXPECT_THAT(ErrorOf(Authorize(ServiceQuery(), "",
                                {{"redirect_uri", "https://a.example/cb#f"}})),
              BadRequest(HasSubstr("Invalid parameter redirect_uri")));
  EXPECT_THAT(ErrorOf(Authorize(ServiceQuery(), "",
                                {{"state", std::string(256, 's')}})),
              BadRequest(HasSubstr("Invalid parameter state: longer than")));
  EXPECT_THAT(
      ErrorOf(Authorize(ServiceQuery(), "", {{"request_uri", "urn:x"}})),
      BadRequest(HasSubstr("Invalid parameter request_uri")));
  EXPECT_THAT(
      ErrorOf(Authorize(ServiceQuery(), "", {{"authorization_details", "[]"}})),
      BadRequest(HasSubstr("Invalid parameter authorization_details")));
  EXPECT_THAT(ErrorOf(ParseAuthorizeQuery(FormEncode(ServiceQuery()) +
                                          "&client_id=other")),
              BadRequest(Eq("Repeated parameter client_id")));
}

TEST(AuthorizeQueryTest, CredentialScopeBad) {
  std::vector<std::string> two = {Digest('a'), Digest('b')};
  for (const char* field :
       {"credentialID", "numSignatures", "hashes", "hashAlgorithmOID"}) {
    SCOPED_TRACE(field);
    EXPECT_THAT(ErrorOf(Authorize(CredentialQuery(two), field)),
                BadRequest(Eq(absl::StrCat("Missing parameter ", field))));
  }
  // Credential parameters with scope=service.
  EXPECT_THAT(
      ErrorOf(Authorize(CredentialQuery(two), "", {{"scope", "service"}})),
      BadRequest(Eq("Invalid parameter credentialID: only with "
                    "scope=credential")));
  for (const char* bad : {"abc", "-1", "1.0", "+2", "9999999999"}) {
    SCOPED_TRACE(bad);
    EXPECT_THAT(
        ErrorOf(Authorize(CredentialQuery(two), "", {{"numSignatures", bad}})),
        BadRequest(HasSubstr("numSignatures")));
  }
  EXPECT_THAT(
      ErrorOf(Authorize(CredentialQuery(two), "", {{"numSignatures", "0"}})),
      BadRequest(Eq("Invalid value for parameter numSignatures")));
  EXPECT_THAT(
      ErrorOf(Authorize(CredentialQuery(two), "", {{"numSignatures", "3"}})),
      BadRequest(HasSubstr("it must equal the number of hashes (2)")));
  // Standard-alphabet base64 is not base64url.
  std::string fb(32, '\xfb');
  EXPECT_THAT(
      ErrorOf(Authorize(CredentialQuery({fb}), "", {{"hashes", B64(fb)}})),
      BadRequest(Eq("Invalid Base64 hash string parameter")));
  EXPECT_THAT(ErrorOf(Authorize(CredentialQuery(two), "",
                                {{"hashes", B64Url(two[0]) + ","}})),
              BadRequest(Eq("Invalid Base64 hash string parameter")));
  EXPECT_THAT(ErrorOf(Authorize(CredentialQuery({two[0], two[0]}))),
              BadRequest(HasSubstr("repeats an earlier hash")));
  EXPECT_THAT(ErrorOf(Authorize(CredentialQuery({Digest('a', 48)}))),
              BadRequest(Eq("Invalid digest value length")));
  EXPECT_THAT(ErrorOf(Authorize(CredentialQuery(two), "",
                                {{"hashAlgorithmOID", "1.3.14.3.2.26"}})),
              BadRequest(HasSubstr("SHA-1")));
  // documentLabels: one per hash, base64url, UTF-8 text without controls.
  EXPECT_THAT(ErrorOf(Authorize(CredentialQuery(two), "",
                                {{"documentLabels", B64Url("only one")}})),
              BadRequest(HasSubstr("Invalid parameter documentLabels: it must "
                                   "have one label per hash (2)")));
  EXPECT_THAT(ErrorOf(Authorize(
                  CredentialQuery(two), "",
                  {{"documentLabels", B64Url("a") + "," + B64Url("b\nc")}})),
              BadRequest(Eq("Invalid parameter documentLabels[1]: contains a "
                            "control character")));
  EXPECT_THAT(ErrorOf(Authorize(CredentialQuery(two), "",
                                {{"documentLabels", B64Url("a") + ",*"}})),
              BadRequest(Eq("Invalid parameter documentLabels[1]: not "
                            "base64url")));
  EXPECT_THAT(
      ErrorOf(Authorize(CredentialQuery(two), "",
                        {{"documentLabels",
                          B64Url("a") + "," + B64Url(std::string(256, 'l'))}})),
      BadRequest(HasSubstr("documentLabels[1]: longer than 255")));
  EXPECT_THAT(
      ErrorOf(Authorize(ServiceQuery(), "", {{"documentLabels", B64Url("a")}})),
      BadRequest(HasSubstr("only with scope=credential")));
}

// ---------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------

TEST(RenderTest, Info) {
  ServiceInfo info;
  info.name = "inkan";
  info.logo = "https://inkan.example/logo.png";
  info.region = "JP";
  info.lang = "ja";
  info.description = "Remote signing \"inkan\"";
  info.auth_type = {"oauth2code"};
  info.oauth2 = "https://inkan.example/";
  info.methods = {"credentials/list", "signatures/signHash"};
  info.sign_algorithms = {
      {std::string(kOidEcdsaSha256), std::nullopt},
      {std::string(kOidRsassaPss), PssParamsDer(HashAlgorithm::kSha256)}};
  info.signature_formats = {};
  info.conformance_levels = {};
  json::object o = ParseBack(RenderInfoResponse(info));
  EXPECT_EQ(S(o.at("specs")), "2.0.0.2");
  EXPECT_EQ(S(o.at("name")), "inkan");
  EXPECT_EQ(S(o.at("region")), "JP");
  EXPECT_EQ(S(o.at("description")), "Remote signing \"inkan\"");
  EXPECT_EQ(S(o.at("authType").at(0)), "oauth2code");
  EXPECT_EQ(S(o.at("oauth2")), "https://inkan.example/");
  EXPECT_FALSE(o.contains("oauth2Issuer"));
  EXPECT_EQ(o.at("asynchronousOperationMode"), json::value(false));
  EXPECT_EQ(o.at("methods").as_array().size(), 2u);
  const json::object& algs = o.at("signAlgorithms").as_object();
  EXPECT_EQ(S(algs.at("algos").at(1)), kOidRsassaPss);
  EXPECT_TRUE(algs.at("algoParams").at(0).is_null());
  EXPECT_EQ(S(algs.at("algoParams").at(1)),
            B64(PssParamsDer(HashAlgorithm::kSha256)));
  EXPECT_TRUE(o.at("signature_formats").at("formats").as_array().empty());
  EXPECT_TRUE(o.at("conformance_levels").as_array().empty());

  // No params at all: algoParams left out.
  info.sign_algorithms = {{std::string(kOidEcdsaSha256), std::nullopt}};
  info.signature_formats = {"C", "P"};
  info.envelope_properties = {{"Detached"}, {"Certification"}};
  o = ParseBack(RenderInfoResponse(info));
  EXPECT_FALSE(o.at("signAlgorithms").as_object().contains("algoParams"));
  EXPECT_EQ(S(o.at("signature_formats").at("envelope_properties").at(1).at(0)),
            "Certification");
}

CredentialInfo RsaCredential() {
  CredentialInfo c;
  c.credential_id = "cred-1";
  c.description = "Alice's \"seal\"\n";
  c.key_enabled = true;
  c.key_algorithm = KeyAlgorithm::kRsa3072;
  CertInfo cert;
  cert.status = CertStatus::kValid;
  cert.certificates_der = {std::string("\x30\x82\x01\x00"
                                       "ee",
                                       6),
                           std::string("\x30\x82\x02\x00"
                                       "ca",
                                       6)};
  cert.details =
      CertDetails{"CN=Example CA,C=JP", "CN=Alice,O=Org,C=JP", "0a1b2c",
                  absl::FromCivil(absl::CivilSecond(2025, 1, 2, 3, 4, 5),
                                  absl::UTCTimeZone()),
                  absl::FromCivil(absl::CivilSecond(2026, 12, 31, 23, 59, 59),
                                  absl::UTCTimeZone())};
  c.cert = cert;
  c.auth_mode = AuthMode::kExplicit;
  c.pin = PinInfo{Presence::kTrue, InputFormat::kNumeric, "PIN", std::nullopt};
  c.otp =
      OtpInfo{Presence::kTrue,       OtpType::kOffline, "totp-1",    "inkan",
              InputFormat::kNumeric, "One-time code",   std::nullopt};
  c.scal = 2;
  c.multisign = 10;
  c.lang = "en";
  return c;
}

TEST(RenderTest, CredentialsInfo) {
  json::object o = ParseBack(RenderCredentialsInfoResponse(RsaCredential()));
  EXPECT_FALSE(o.contains("credentialID"));
  EXPECT_EQ(S(o.at("description")), "Alice's \"seal\"\n");
  const json::object& key = o.at("key").as_object();
  EXPECT_EQ(S(key.at("status")), "enabled");
  std::vector<std::string> algo;
  for (const auto& v : key.at("algo").as_array()) algo.push_back(S(v));
  EXPECT_EQ(algo, KeyAlgoOids(KeyAlgorithm::kRsa3072));
  EXPECT_EQ(key.at("len"), json::value(3072));
  EXPECT_FALSE(key.contains("curve"));

  const json::object& cert = o.at("cert").as_object();
  EXPECT_EQ(S(cert.at("status")), "valid");
  ASSERT_EQ(cert.at("certificates").as_array().size(), 2u);
  EXPECT_EQ(S(cert.at("certificates").at(0)), B64(std::string("\x30\x82\x01\x00"
                                                              "ee",
                                                              6)));
  EXPECT_EQ(S(cert.at("issuerDN")), "CN=Example CA,C=JP");
  EXPECT_EQ(S(cert.at("subjectDN")), "CN=Alice,O=Org,C=JP");
  EXPECT_EQ(S(cert.at("serialNumber")), "0a1b2c");
  EXPECT_EQ(S(cert.at("validFrom")), "20250102030405Z");
  EXPECT_EQ(S(cert.at("validTo")), "20261231235959Z");

  EXPECT_EQ(S(o.at("authMode")), "explicit");
  EXPECT_EQ(S(o.at("PIN").at("presence")), "true");
  EXPECT_EQ(S(o.at("PIN").at("format")), "N");
  EXPECT_EQ(S(o.at("PIN").at("label")), "PIN");
  EXPECT_EQ(S(o.at("OTP").at("type")), "offline");
  EXPECT_EQ(S(o.at("OTP").at("ID")), "totp-1");
  EXPECT_EQ(S(o.at("OTP").at("provider")), "inkan");
  const json::object& auth = o.at("auth").as_object();
  EXPECT_EQ(S(auth.at("mode")), "explicit");
  EXPECT_EQ(S(auth.at("expression")), "PIN AND OTP");
  EXPECT_EQ(S(auth.at("objects").at(0).at("id")), "PIN");
  EXPECT_EQ(S(auth.at("objects").at(0).at("type")), "Password");
  EXPECT_EQ(S(auth.at("objects").at(1).at("id")), "OTP");
  EXPECT_EQ(S(auth.at("objects").at(1).at("generator")), "totp");
  EXPECT_EQ(S(o.at("SCAL")), "2");  // a string
  EXPECT_EQ(o.at("multisign"), json::value(10));
  EXPECT_EQ(S(o.at("lang")), "en");
}

TEST(RenderTest, CredentialsInfoVariants) {
  CredentialInfo c;
  c.key_algorithm = KeyAlgorithm::kEcP384;
  c.key_enabled = false;
  c.auth_mode = AuthMode::kOAuth2Code;
  c.scal = 1;
  json::object o = ParseBack(RenderCredentialsInfoResponse(c));
  EXPECT_EQ(S(o.at("key").at("status")), "disabled");
  EXPECT_EQ(S(o.at("key").at("curve")), kOidCurveP384);
  EXPECT_EQ(o.at("key").at("len"), json::value(384));
  EXPECT_FALSE(o.contains("cert"));
  EXPECT_FALSE(o.contains("PIN"));
  EXPECT_FALSE(o.contains("description"));
  EXPECT_EQ(S(o.at("authMode")), "oauth2code");
  EXPECT_EQ(S(o.at("auth").at("mode")), "oauth2code");
  EXPECT_FALSE(o.at("auth").as_object().contains("objects"));
  EXPECT_EQ(S(o.at("SCAL")), "1");

  // An online OTP is a ChallengeResponse object; an optional PIN is listed
  // but not required by the expression; certificates=none leaves them out.
  c = RsaCredential();
  c.pin->presence = Presence::kOptional;
  c.otp->type = OtpType::kOnline;
  c.cert->certificates_der.clear();
  c.cert->details.reset();
  o = ParseBack(RenderCredentialsInfoResponse(c));
  EXPECT_EQ(S(o.at("auth").at("expression")), "OTP");
  EXPECT_EQ(o.at("auth").at("objects").as_array().size(), 2u);
  EXPECT_EQ(S(o.at("auth").at("objects").at(1).at("type")),
            "ChallengeResponse");
  EXPECT_FALSE(
      o.at("auth").at("objects").at(1).as_object().contains("generator"));
  EXPECT_EQ(S(o.at("OTP").at("type")), "online");
  EXPECT_FALSE(o.at("cert").as_object().contains("certificates"));
  EXPECT_FALSE(o.at("cert").as_object().contains("validFrom"));
  EXPECT_EQ(S(o.at("cert").at("status")), "valid");
}

TEST(RenderTest, CredentialsList) {
  CredentialsListResponse list;
  list.credential_ids = {"cred-1", "cred-2"};
  json::object o = ParseBack(RenderCredentialsListResponse(list));
  EXPECT_EQ(o.at("credentialIDs").as_array().size(), 2u);
  EXPECT_EQ(S(o.at("credentialIDs").at(1)), "cred-2");
  EXPECT_FALSE(o.contains("credentialInfos"));
  EXPECT_FALSE(o.contains("onlyValid"));

  list.credential_infos = std::vector<CredentialInfo>{RsaCredential()};
  list.only_valid = true;
  o = ParseBack(RenderCredentialsListResponse(list));
  const json::object& first = o.at("credentialInfos").at(0).as_object();
  EXPECT_EQ(S(first.at("credentialID")), "cred-1");
  EXPECT_EQ(first.at("key").at("len"), json::value(3072));
  EXPECT_EQ(o.at("onlyValid"), json::value(true));
}

TEST(RenderTest, AuthorizeSignHashLoginToken) {
  json::object o =
      ParseBack(RenderCredentialsAuthorizeResponse({"sad-xyz", 300}));
  EXPECT_EQ(S(o.at("SAD")), "sad-xyz");
  EXPECT_EQ(o.at("expiresIn"), json::value(300));

  std::string sig1("\x30\x45\x02\x20\xff", 5), sig2(256, '\x01');
  o = ParseBack(RenderSignHashResponse({sig1, sig2}));
  ASSERT_EQ(o.at("signatures").as_array().size(), 2u);
  std::string back;
  ASSERT_TRUE(absl::Base64Unescape(S(o.at("signatures").at(0)), &back));
  EXPECT_EQ(back, sig1);
  ASSERT_TRUE(absl::Base64Unescape(S(o.at("signatures").at(1)), &back));
  EXPECT_EQ(back, sig2);
  o = ParseBack(RenderSignHashResponse({}));
  EXPECT_TRUE(o.at("signatures").as_array().empty());

  o = ParseBack(RenderAuthLoginResponse({"at", std::nullopt, 3600}));
  EXPECT_EQ(S(o.at("access_token")), "at");
  EXPECT_FALSE(o.contains("refresh_token"));
  EXPECT_EQ(o.at("expires_in"), json::value(3600));
  o = ParseBack(RenderAuthLoginResponse({"at", "rt", 60}));
  EXPECT_EQ(S(o.at("refresh_token")), "rt");

  o = ParseBack(RenderTokenResponse({"at", 300, std::nullopt, "cred-1"}));
  EXPECT_EQ(S(o.at("access_token")), "at");
  EXPECT_EQ(S(o.at("token_type")), "Bearer");
  EXPECT_EQ(o.at("expires_in"), json::value(300));
  EXPECT_FALSE(o.contains("refresh_token"));
  EXPECT_EQ(S(o.at("credentialID")), "cred-1");
  o = ParseBack(RenderTokenResponse({"at", 3600, "rt", std::nullopt}));
  EXPECT_EQ(S(o.at("refresh_token")), "rt");
  EXPECT_FALSE(o.contains("credentialID"));
}

TEST(FormEncodeTest, RoundTripsThroughTheParser) {
  std::string odd = "a b&c=d%e+f/é";
  auto q = ServiceQuery();
  q[6].second = odd;  // state
  std::string text = FormEncode(q);
  EXPECT_EQ(text.find(' '), std::string::npos);
  EXPECT_EQ(text.find('+'), std::string::npos);
  auto r = ParseAuthorizeQuery(text);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->state, odd);
}

}  // namespace
}  // namespace inkan::api::csc
