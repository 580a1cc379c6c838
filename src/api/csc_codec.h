// The CSC API v2 codec for `inkan serve`: parses and strictly validates each
// endpoint's request (JSON body, form body or query string) into a struct,
// and renders responses and errors as JSON. No HTTP and no business logic:
// whether a credential exists, a SAD is valid or a client is registered is
// for the caller to decide.
//
// Errors. Every parser returns absl::StatusOr<T>. A failed status carries the
// CSC error (HTTP status and `error` code) as a payload; FromStatus() turns
// it (or any other status) back into a CscError, and RenderError() gives the
// body {"error": ..., "error_description": ...}. The parsers only ever fail
// with 400 and one of invalid_request, invalid_scope or
// unsupported_response_type.
//
// Error descriptions. Where the CSC API text gives one (reference §3), it is
// reproduced verbatim with the v2 field name ("Missing (or invalid type)
// string parameter credentialID", "Empty hash array", "Invalid Base64 hash
// string parameter", "Invalid digest value length", ...). Otherwise the
// description starts with "Invalid parameter <field>" and says why after a
// colon. Descriptions never echo a client's value, except an OID that is
// made only of digits and dots, or a plain (short, [A-Za-z0-9_.-]) member or
// parameter name in "Repeated parameter <name>".
//
// Common rules of the JSON parsers:
//  - The body must be a JSON object (an empty body counts as {}), at most
//    kMaxBodyBytes, valid UTF-8, nested at most 32 deep.
//  - A member that appears twice is refused ("repeated parameter", §5).
//  - Unknown members are ignored, for forward compatibility (v1 names such
//    as `hash`, `PIN`, `OTP`, `maxResults` and `pageToken` are unknown here).
//  - A member whose value is null counts as absent.
//  - Types are strict: a string where a boolean or integer is expected (or
//    1.0 for an integer) is refused.
//  - Strings are capped (constants below). Identifiers, tokens and texts
//    may not contain control characters; clientData may.
//  - Base64 is RFC 4648 §4 with padding and no line breaks, and must be
//    canonical; base64url (the oauth2/authorize `hashes`) may be unpadded.
//  - Hashes are compared as decoded bytes: a list with the same digest twice
//    is refused.
//
// Form bodies (oauth2/token, oauth2/revoke) and the oauth2/authorize query
// are application/x-www-form-urlencoded: '+' is a space, %XX must be well
// formed, every value must be UTF-8, a parameter may not repeat, and an empty
// value counts as absent (RFC 6749 §3.1).
#ifndef INKAN_API_CSC_CODEC_H_
#define INKAN_API_CSC_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crypto/algorithm.h"

namespace inkan::api::csc {

// ---------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------

inline constexpr size_t kMaxBodyBytes = 1 << 20;  // JSON, form or query
// Hashes per request (authorize, signHash, oauth2/authorize); numSignatures
// is capped the same way.
inline constexpr size_t kMaxHashes = 1000;
// credentialID, userID, client_id, state, authData id (bytes). lang is an
// RFC 5646-shaped tag of at most 35 characters.
inline constexpr size_t kMaxIdBytes = 255;
// SAD, access and refresh tokens, authorization codes, client_secret.
inline constexpr size_t kMaxTokenBytes = 4096;
inline constexpr size_t kMaxAuthDataValueBytes = 256;  // a PIN or an OTP
inline constexpr size_t kMaxAuthDataEntries = 16;
inline constexpr size_t kMaxClientDataBytes = 4096;
inline constexpr size_t kMaxDescriptionChars = 500;  // code points (§3.6)
inline constexpr size_t kMaxLabelChars = 255;        // code points
inline constexpr size_t kMaxUriBytes = 2083;         // redirect_uri (§3.3)
inline constexpr size_t kMaxOidBytes = 64;
inline constexpr size_t kMaxSignAlgoParamsBytes = 256;  // base64 text

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

struct CscError {
  int http_status = 400;
  std::string error;        // "invalid_request", ...
  std::string description;  // error_description; omitted from JSON if empty
  bool operator==(const CscError&) const = default;
};

// {"error": ..., "error_description": ...}. Bytes that are not UTF-8 in the
// description become '?'.
std::string RenderError(const CscError& error);

// A status that carries `error` (code chosen from the HTTP status: 400
// InvalidArgument, 401 Unauthenticated, 403 PermissionDenied, 429
// ResourceExhausted, 501 Unimplemented, 503 Unavailable, else Internal; the
// message is the description).
absl::Status ToStatus(const CscError& error);

// The CscError a status carries (ToStatus, or any parser here). A status
// without one is mapped by its code:
//   InvalidArgument, OutOfRange, FailedPrecondition, NotFound,
//   AlreadyExists, Unimplemented      -> 400 invalid_request (message kept)
//   Unauthenticated                   -> 401 invalid_token (message kept)
//   PermissionDenied                  -> 403 access_denied (message kept)
//   ResourceExhausted                 -> 429 temporarily_unavailable
//   Unavailable, DeadlineExceeded     -> 503 temporarily_unavailable
//   anything else (and OK)            -> 500 server_error
// The last three use a fixed description, so internal detail never reaches
// the client. NOTE: sam reports a wrong PIN as Unauthenticated; a handler
// must turn that into InvalidPin()/InvalidAuthenticationData() itself, since
// 401 invalid_token means a bad service token.
CscError FromStatus(const absl::Status& status);

// The CSC errors, with the status, code and text of reference §3 and §5:
//
//   helper                        status  error                 description
//   InvalidRequest(d)               400   invalid_request       d
//   InvalidToken(d)                 401   invalid_token         d
//   ExpiredToken()                  401   expired_token         "The access or
//                                         refresh token is expired or revoked"
//   InvalidClient(d)                401   invalid_client        d ("Invalid
//                                         authorization header", oauth2/revoke)
//   UnauthorizedClient()            400   unauthorized_client   (RFC 6749 5.2)
//   AccessDenied(d)                 403   access_denied         d
//   InvalidScope()                  400   invalid_scope         "Invalid
//                                                               parameter
//                                                               scope"
//   UnsupportedResponseType()       400   unsupported_response_type
//   InvalidGrant(d)                 400   invalid_grant         d
//   (oauth2/token) UnsupportedTokenType()          400   unsupported_token_type
//   (oauth2/revoke) AuthenticationError()           400   authentication_error
//   "An error
//                                     occurred during authentication process"
//   MalformedAuthenticationParameter()
//                                   401   invalid_request       "Malformed
//                                         authentication parameter."
//   MalformedUsernamePassword()     400   invalid_request       "Malformed
//                                                        username-password."
//   InvalidRefreshToken()           400   invalid_request "Invalid
//   refresh_token" ClientAuthorizationRequired()   401   invalid_request
//   "Client authorization
//                                                               required"
//   InvalidPin()                    400   invalid_pin     "The PIN is invalid"
//   InvalidOtp()                    400   invalid_otp     "The OTP is invalid"
//   InvalidAuthenticationData()     400   invalid_authentication_data
//                                         "The authentication data is invalid"
//   PinLocked() / OtpLocked() /     400   invalid_request "PIN locked" /
//   CredentialLocked()                    "OTP locked" / "Credential locked"
//   InvalidCredentialId()           400   invalid_request "Invalid parameter
//                                                               credentialID"
//   CredentialDisabled()            400   invalid_request "The credential
//                                     identified by credentialID is disabled"
//   TooManySignatures()             400   invalid_request "Numbers of
//                           signatures is too high" (numSignatures > multisign)
//   InvalidSad()                    400   invalid_request "Invalid parameter
//   SAD" SadExpired()                    400   invalid_request "SAD expired"
//   HashNotAuthorized()             400   invalid_request "Hash is not
//                                                    authorized by the SAD."
//   UserIdMustBeNull()              400   invalid_request "userID parameter
//                                                               MUST be null"
//   SigningCertificateExpired(dn)   400   invalid_request "Signing certificate
//                                                     '<dn>' is expired."
//   ServerError()                   500   server_error    "Internal server
//                                                               error"
//   TemporarilyUnavailable()        503   temporarily_unavailable "The service
//                                                 is temporarily unavailable"
//   TooManyRequests()               429   temporarily_unavailable "Too many
//                                                               requests"
CscError InvalidRequest(absl::string_view description);
CscError InvalidToken(
    absl::string_view description = "The access token is not valid");
CscError ExpiredToken();
CscError InvalidClient(
    absl::string_view description = "Invalid authorization header");
CscError UnauthorizedClient();
CscError AccessDenied(absl::string_view description = "Access denied");
CscError InvalidScope();
CscError UnsupportedResponseType();
CscError InvalidGrant(absl::string_view description);
CscError UnsupportedTokenType();
CscError AuthenticationError();
CscError MalformedAuthenticationParameter();
CscError MalformedUsernamePassword();
CscError InvalidRefreshToken();
CscError ClientAuthorizationRequired();
CscError InvalidPin();
CscError InvalidOtp();
CscError InvalidAuthenticationData();
CscError PinLocked();
CscError OtpLocked();
CscError CredentialLocked();
CscError InvalidCredentialId();
CscError CredentialDisabled();
CscError TooManySignatures();
CscError InvalidSad();
CscError SadExpired();
CscError HashNotAuthorized();
CscError UserIdMustBeNull();
CscError SigningCertificateExpired(absl::string_view subject_dn);
CscError ServerError();
CscError TemporarilyUnavailable();
CscError TooManyRequests();

// ---------------------------------------------------------------------------
// Algorithm OIDs (reference §6)
// ---------------------------------------------------------------------------

inline constexpr absl::string_view kOidSha256 = "2.16.840.1.101.3.4.2.1";
inline constexpr absl::string_view kOidSha384 = "2.16.840.1.101.3.4.2.2";
inline constexpr absl::string_view kOidSha512 = "2.16.840.1.101.3.4.2.3";
inline constexpr absl::string_view kOidRsaEncryption = "1.2.840.113549.1.1.1";
inline constexpr absl::string_view kOidSha256WithRsa = "1.2.840.113549.1.1.11";
inline constexpr absl::string_view kOidSha384WithRsa = "1.2.840.113549.1.1.12";
inline constexpr absl::string_view kOidSha512WithRsa = "1.2.840.113549.1.1.13";
inline constexpr absl::string_view kOidRsassaPss = "1.2.840.113549.1.1.10";
inline constexpr absl::string_view kOidEcPublicKey = "1.2.840.10045.2.1";
inline constexpr absl::string_view kOidEcdsaSha256 = "1.2.840.10045.4.3.2";
inline constexpr absl::string_view kOidEcdsaSha384 = "1.2.840.10045.4.3.3";
inline constexpr absl::string_view kOidEcdsaSha512 = "1.2.840.10045.4.3.4";
inline constexpr absl::string_view kOidEd25519 = "1.3.101.112";
inline constexpr absl::string_view kOidCurveP256 = "1.2.840.10045.3.1.7";
inline constexpr absl::string_view kOidCurveP384 = "1.3.132.0.34";

absl::string_view HashAlgorithmOid(crypto::HashAlgorithm hash);
// SHA-256/384/512 only. SHA-1, SHA-224 and SHA-3 are refused by name;
// anything else as unsupported. Errors name `hashAlgorithmOID`.
absl::StatusOr<crypto::HashAlgorithm> ParseHashAlgorithmOid(
    absl::string_view oid);

// The signature schemes a signAlgo can name, before the key is known.
enum class SignFamily { kRsaPkcs1, kRsaPss, kEcdsa, kEd25519 };
struct SignAlgo {
  SignFamily family;
  crypto::HashAlgorithm hash;  // the digest the client computed
  bool operator==(const SignAlgo&) const = default;
};

// signAlgo (+ signAlgoParams as DER, + hashAlgorithmOID) -> scheme; an empty
// string means "absent". The table:
//   rsaEncryption         1.2.840.113549.1.1.1   PKCS#1 v1.5, hash from
//                                                hashAlgorithmOID (required)
//   sha{256,384,512}WithRSAEncryption .11/.12/.13 PKCS#1 v1.5, hash implied
//   RSASSA-PSS            1.2.840.113549.1.1.10  hash from signAlgoParams
//       (RSASSA-PSS-params: hash, MGF1 with the same hash, saltLength equal
//       to the hash length, trailerField 1); without signAlgoParams, from
//       hashAlgorithmOID with those defaults (a convention, §6)
//   id-ecPublicKey        1.2.840.10045.2.1      ECDSA, hash from
//                                                hashAlgorithmOID (required)
//   ecdsa-with-SHA{256,384,512} 1.2.840.10045.4.3.2/.3/.4  ECDSA, implied
//   Ed25519               1.3.101.112            PureEdDSA over the digest
//       bytes; hashAlgorithmOID required (it says what the digest is)
// An implied hash that hashAlgorithmOID contradicts is refused, as are SHA-1
// and SHA-224 schemes, and signAlgoParams on anything but PSS (a DER NULL,
// 05 00, is tolerated there). Errors name signAlgo, signAlgoParams or
// hashAlgorithmOID.
absl::StatusOr<SignAlgo> ParseSignAlgo(absl::string_view sign_algo,
                                       absl::string_view sign_algo_params_der,
                                       absl::string_view hash_algorithm_oid);

// ParseSignAlgo, then checks that the scheme fits the credential's key:
//   RSA keys    PKCS#1 v1.5 and PSS with SHA-256/384/512
//   P-256       ECDSA with SHA-256/384/512
//   P-384       ECDSA with SHA-384/512 (SHA-256 is weaker than the curve)
//   Ed25519     Ed25519 with SHA-256/384/512 digests
// InvalidArgument (400 invalid_request "Invalid parameter signAlgo: ...")
// otherwise, e.g. ECDSA on an RSA key.
absl::StatusOr<crypto::SignatureScheme> ResolveSignAlgo(
    absl::string_view sign_algo, absl::string_view sign_algo_params_der,
    absl::string_view hash_algorithm_oid, crypto::KeyAlgorithm credential_key);

// The signAlgo OIDs a credential with this key accepts, preferred first (for
// credentials/info key/algo; clients often take algo[0]). Every one of them
// resolves with ResolveSignAlgo for that key (with a suitable hash); no other
// OID does.
//   RSA     sha256WithRSA, sha384WithRSA, sha512WithRSA, RSASSA-PSS,
//           rsaEncryption
//   P-256   ecdsa-with-SHA256, -SHA384, -SHA512, id-ecPublicKey
//   P-384   ecdsa-with-SHA384, -SHA512, id-ecPublicKey
//   Ed25519 Ed25519
std::vector<std::string> KeyAlgoOids(crypto::KeyAlgorithm key);
int KeyLengthBits(crypto::KeyAlgorithm key);  // key/len
// key/curve: the named curve's OID for ECDSA keys, empty otherwise.
absl::string_view CurveOid(crypto::KeyAlgorithm key);
// DER RSASSA-PSS-params {hash, MGF1(hash), salt = hash length} with explicit
// NULL hash parameters (for info signAlgorithms.algoParams).
std::string PssParamsDer(crypto::HashAlgorithm hash);

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

enum class CertificatesMode { kNone, kSingle, kChain };  // default single

// POST/GET info.
struct InfoRequest {
  std::optional<std::string> lang;
};
absl::StatusOr<InfoRequest> ParseInfoRequest(absl::string_view body);

// auth/login (the user's credentials come in the Authorization header).
struct AuthLoginRequest {
  std::optional<std::string> refresh_token;
  bool remember_me = false;
  std::optional<std::string> client_data;
};
absl::StatusOr<AuthLoginRequest> ParseAuthLoginRequest(absl::string_view body);

// credentials/list. userID is parsed; that it MUST be absent with a
// user-specific service token (UserIdMustBeNull) is the caller's check.
struct CredentialsListRequest {
  std::optional<std::string> user_id;
  bool credential_info = false;
  CertificatesMode certificates = CertificatesMode::kSingle;
  bool cert_info = false;
  bool auth_info = false;
  bool only_valid = false;
  std::optional<std::string> lang;
  std::optional<std::string> client_data;
};
absl::StatusOr<CredentialsListRequest> ParseCredentialsListRequest(
    absl::string_view body);

// credentials/info.
struct CredentialsInfoRequest {
  std::string credential_id;
  CertificatesMode certificates = CertificatesMode::kSingle;
  bool cert_info = false;
  bool auth_info = false;
  std::optional<std::string> lang;
  std::optional<std::string> client_data;
};
absl::StatusOr<CredentialsInfoRequest> ParseCredentialsInfoRequest(
    absl::string_view body);

// One authData entry: {id, value}. An out-of-band object is sent as {id}.
// `value` is a PIN or an OTP: never log it.
struct AuthDatum {
  std::string id;
  std::optional<std::string> value;
};

// credentials/authorize (explicit mode).
//  - numSignatures: integer, 1..kMaxHashes (> multisign is the caller's
//    check, TooManySignatures).
//  - hashes (optional): std base64, decoded here; non-empty, at most
//    kMaxHashes, no duplicates, each as long as hashAlgorithmOID's digest,
//    and as many as numSignatures. hashAlgorithmOID is then required.
//  - authData (optional): at most kMaxAuthDataEntries objects with a
//    distinct string `id` and an optional string `value`; [] is valid (an
//    RSSP-managed authorization).
//  - description: at most kMaxDescriptionChars.
struct CredentialsAuthorizeRequest {
  std::string credential_id;
  int num_signatures = 0;
  std::vector<std::string> hashes;  // decoded digests; empty if none given
  std::optional<crypto::HashAlgorithm> hash_algorithm;
  std::optional<std::vector<AuthDatum>> auth_data;
  std::optional<std::string> description;
  std::optional<std::string> client_data;
};
absl::StatusOr<CredentialsAuthorizeRequest> ParseCredentialsAuthorizeRequest(
    absl::string_view body);

// signatures/signHash.
//  - SAD is optional here: a credential-scope token in the Authorization
//    header can stand for it (v2); whether one of the two is there is the
//    caller's check ("Missing (or invalid type) string parameter SAD").
//  - hashes: required, rules as in credentials/authorize; their length is
//    checked against the hash that signAlgo/signAlgoParams/hashAlgorithmOID
//    give (ParseSignAlgo), which is in `hash`.
//  - operationMode: "S" (the default). "A" is refused as unsupported (inkan
//    does not advertise asynchronousOperationMode), anything else as
//    invalid. validity_period and response_uri (only meaningful with "A")
//    are ignored.
// Once the credential's key is known, ResolveSignAlgo(request, key) gives the
// scheme.
struct SignHashRequest {
  std::string credential_id;
  std::optional<std::string> sad;
  std::vector<std::string> hashes;  // decoded digests
  std::string sign_algo;
  std::optional<std::string> sign_algo_params;  // decoded DER
  std::optional<std::string> hash_algorithm_oid;
  crypto::HashAlgorithm hash = crypto::HashAlgorithm::kSha256;
  std::optional<std::string> client_data;
};
absl::StatusOr<SignHashRequest> ParseSignHashRequest(absl::string_view body);
absl::StatusOr<crypto::SignatureScheme> ResolveSignAlgo(
    const SignHashRequest& request, crypto::KeyAlgorithm credential_key);

// auth/revoke (JSON) and oauth2/revoke (form).
enum class TokenTypeHint { kAccessToken, kRefreshToken };
struct RevokeRequest {
  std::string token;
  std::optional<TokenTypeHint> token_type_hint;  // other values refused
  std::optional<std::string> client_id;          // oauth2/revoke only
  std::optional<std::string> client_secret;      // oauth2/revoke only
  std::optional<std::string> client_data;
};
absl::StatusOr<RevokeRequest> ParseAuthRevokeRequest(absl::string_view body);
absl::StatusOr<RevokeRequest> ParseOAuth2RevokeRequest(absl::string_view form);

// oauth2/token. Errors follow §3.3: "Missing parameter X" / "Invalid
// parameter X", 400 invalid_request.
//  - grant_type: authorization_code or refresh_token (client_credentials is
//    not offered).
//  - client_id: required (CSC makes it R even with HTTP Basic client auth).
//  - authorization_code: code and code_verifier required; the verifier is
//    43..128 characters of [A-Za-z0-9-._~] (RFC 7636 §4.1).
//  - refresh_token: refresh_token required.
//  - client_secret, redirect_uri (RC: equal to the authorize request's, the
//    caller's check) and clientData optional.
enum class GrantType { kAuthorizationCode, kRefreshToken };
struct TokenRequest {
  GrantType grant_type = GrantType::kAuthorizationCode;
  std::string client_id;
  std::optional<std::string> client_secret;
  std::optional<std::string> code;
  std::optional<std::string> code_verifier;
  std::optional<std::string> redirect_uri;
  std::optional<std::string> refresh_token;
  std::optional<std::string> client_data;
};
absl::StatusOr<TokenRequest> ParseTokenRequest(absl::string_view form);

// oauth2/authorize, from the query string (a leading '?' is skipped).
//  - response_type=code (else 400 unsupported_response_type), client_id.
//  - redirect_uri: optional, at most kMaxUriBytes, no fragment.
//  - scope: service (default) or credential; anything else 400
//    invalid_scope.
//  - code_challenge (required) with code_challenge_method=S256 (required:
//    the RFC 7636 default, plain, is refused). The challenge must be
//    base64url of 32 bytes (43 characters).
//  - state: optional, at most 255 bytes.
//  - scope=credential requires credentialID, numSignatures, hashes and
//    hashAlgorithmOID: inkan binds every credential authorization to its
//    hashes (SCAL 2). hashes are base64url (padded or not), comma-separated,
//    checked as in credentials/authorize. scope=service refuses those four.
//  - description (at most kMaxDescriptionChars), lang, clientData.
//  - documentLabels (inkan extension): labels for the consent page, one per
//    hash in the same order, comma-separated, each the base64url (padded or
//    not) of a UTF-8 label of 1..kMaxLabelChars characters without control
//    characters. Only with scope=credential. This is the query form of RAR's
//    documentDigests[].label.
//  - request_uri (PAR) and authorization_details (RAR) are refused as not
//    supported, rather than ignored, so such a request is never read as
//    plain scope=service.
enum class Scope { kService, kCredential };
struct AuthorizeRequest {
  std::string client_id;
  std::optional<std::string> redirect_uri;
  Scope scope = Scope::kService;
  std::string code_challenge;  // base64url text, as sent
  std::optional<std::string> state;
  std::optional<std::string> credential_id;
  int num_signatures = 0;
  std::vector<std::string> hashes;  // decoded digests
  std::optional<crypto::HashAlgorithm> hash_algorithm;
  std::vector<std::string> document_labels;  // empty, or one per hash
  std::optional<std::string> description;
  std::optional<std::string> lang;
  std::optional<std::string> client_data;
};
absl::StatusOr<AuthorizeRequest> ParseAuthorizeQuery(absl::string_view query);

// application/x-www-form-urlencoded text for `params`, in order (for the
// authorize redirect's query, and for tests).
std::string FormEncode(
    const std::vector<std::pair<std::string, std::string>>& params);

// ---------------------------------------------------------------------------
// Responses. Optional members are omitted when unset; binary values are
// given as bytes and rendered as base64.
// ---------------------------------------------------------------------------

struct SignAlgorithmEntry {
  std::string oid;
  std::optional<std::string> params_der;  // e.g. PssParamsDer(...)
};

// The facts `info` reports.
struct ServiceInfo {
  std::string specs = "2.0.0.2";
  std::string name;
  std::string logo;
  std::string region;
  std::string lang;
  std::string description;
  std::vector<std::string> auth_type;  // "oauth2code", "basic", ...
  std::optional<std::string> oauth2;   // give oauth2 or oauth2_issuer
  std::optional<std::string> oauth2_issuer;
  bool asynchronous_operation_mode = false;
  std::vector<std::string> methods;
  // signAlgorithms {algos, algoParams}; algoParams (parallel to algos, null
  // where an algorithm has none) is rendered only if some entry has params.
  std::vector<SignAlgorithmEntry> sign_algorithms;
  // signature_formats {formats, envelope_properties (if non-empty)}.
  std::vector<std::string> signature_formats;
  std::vector<std::vector<std::string>> envelope_properties;
  std::vector<std::string> conformance_levels;
};
std::string RenderInfoResponse(const ServiceInfo& info);

enum class CertStatus { kValid, kExpired, kRevoked, kSuspended };

// cert/issuerDN ... validTo, for certInfo=true.
struct CertDetails {
  std::string issuer_dn;          // RFC 4514
  std::string subject_dn;         // RFC 4514
  std::string serial_number_hex;  // as given
  absl::Time valid_from;          // rendered "YYYYMMDDHHMMSSZ" (UTC)
  absl::Time valid_to;
};

struct CertInfo {
  std::optional<CertStatus> status;
  // DER certificates, end entity first; "certificates" is omitted when
  // empty (certificates=none).
  std::vector<std::string> certificates_der;
  std::optional<CertDetails> details;
};

enum class Presence { kTrue, kFalse, kOptional };  // "true"|"false"|"optional"
enum class InputFormat { kAlphanumeric, kNumeric };  // "A"|"N"

struct PinInfo {
  Presence presence = Presence::kTrue;
  InputFormat format = InputFormat::kNumeric;
  std::optional<std::string> label;
  std::optional<std::string> description;
};

enum class OtpType { kOffline, kOnline };
struct OtpInfo {
  Presence presence = Presence::kTrue;
  OtpType type = OtpType::kOffline;
  std::optional<std::string> id;  // "ID"
  std::optional<std::string> provider;
  InputFormat format = InputFormat::kNumeric;
  std::optional<std::string> label;
  std::optional<std::string> description;
};

enum class AuthMode { kExplicit, kOAuth2Code };

// A credential, for credentials/info and credentials/list credentialInfos.
// The renderer emits what is set; what to set (certificates, certInfo,
// authInfo) is the caller's decision. Rendered:
//   credentialID (credentials/list entries only), description,
//   signatureQualifier,
//   key {status "enabled"|"disabled", algo KeyAlgoOids(), len, curve (EC)},
//   cert {status, certificates[], issuerDN, subjectDN, serialNumber,
//         validFrom, validTo},
//   authMode, PIN {...}, OTP {...} (v1 shape), and the v2 auth object
//   {mode, expression, objects}: explicit mode lists PIN as
//   {type "Password", id "PIN"} and OTP as {type "Password", id "OTP",
//   generator "totp"} when offline or {type "ChallengeResponse", id "OTP"}
//   when online (presence false objects are left out); the expression joins
//   the objects whose presence is "true" with AND (optional objects are
//   listed but not in it). authData ids in credentials/authorize are these
//   ids.
//   SCAL ("1"|"2", a string), multisign, lang.
struct CredentialInfo {
  std::string credential_id;
  std::optional<std::string> description;
  std::optional<std::string> signature_qualifier;
  bool key_enabled = true;
  crypto::KeyAlgorithm key_algorithm = crypto::KeyAlgorithm::kEcP256;
  std::optional<CertInfo> cert;
  AuthMode auth_mode = AuthMode::kExplicit;
  std::optional<PinInfo> pin;
  std::optional<OtpInfo> otp;
  int scal = 2;
  int multisign = 1;
  std::optional<std::string> lang;
};
std::string RenderCredentialsInfoResponse(const CredentialInfo& info);

struct CredentialsListResponse {
  std::vector<std::string> credential_ids;
  // credentialInfos, when credentialInfo=true.
  std::optional<std::vector<CredentialInfo>> credential_infos;
  std::optional<bool> only_valid;
};
std::string RenderCredentialsListResponse(
    const CredentialsListResponse& response);

// credentials/authorize: {SAD, expiresIn}.
struct AuthorizeResponse {
  std::string sad;
  int64_t expires_in = 3600;  // seconds
};
std::string RenderCredentialsAuthorizeResponse(
    const AuthorizeResponse& response);

// signatures/signHash: {signatures: [base64]}, in the order of the hashes.
std::string RenderSignHashResponse(const std::vector<std::string>& signatures);

// auth/login: {access_token, refresh_token?, expires_in}.
struct LoginResponse {
  std::string access_token;
  std::optional<std::string> refresh_token;
  int64_t expires_in = 3600;
};
std::string RenderAuthLoginResponse(const LoginResponse& response);

// oauth2/token: {access_token, token_type "Bearer", expires_in,
// refresh_token?, credentialID?}.
struct TokenResponse {
  std::string access_token;
  int64_t expires_in = 3600;
  std::optional<std::string> refresh_token;
  std::optional<std::string> credential_id;
};
std::string RenderTokenResponse(const TokenResponse& response);

}  // namespace inkan::api::csc

#endif  // INKAN_API_CSC_CODEC_H_
