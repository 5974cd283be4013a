#   The agent's TLS library (its probes' `tls = yes`), one of two behind
#   agent/zb_tls.h: `-DZB_TLS=gnutls` (the default: a held connection costs
#   under half of OpenSSL's, docs/benchmarks.md, item 4t) or
#   `-DZB_TLS=openssl`. Sets ZB_TLS_SOURCE (agent/'s file for it) and
#   ZB_TLS_LIBRARY (the imported target to link). Included by the main tree
#   and by bench/'s standalone build, so both build the same one.
#   With GnuTLS, a held session's records are carried by zb_tls_record.c
#   once the handshake is done (nettle's AEAD ciphers, GnuTLS's own crypto
#   library): ZB_TLS_RECORD is defined for the agent's self-test table.
set(ZB_TLS "gnutls" CACHE STRING "The agent's TLS library: gnutls or openssl")
set_property(CACHE ZB_TLS PROPERTY STRINGS gnutls openssl)
if(ZB_TLS STREQUAL "gnutls")
    if(NOT TARGET PkgConfig::GNUTLS)
        #   3.6.5: TLS 1.3 and gnutls_session_set_verify_cert2 with addresses.
        #   3.6.13: gnutls_session_set_keylog_function (TLS 1.3 secrets).
        pkg_check_modules(GNUTLS REQUIRED IMPORTED_TARGET gnutls>=3.6.13)
    endif()
    if(NOT TARGET PkgConfig::NETTLE)
        pkg_check_modules(NETTLE REQUIRED IMPORTED_TARGET nettle>=3.4)
    endif()
    set(ZB_TLS_SOURCE zb_tls_gnutls.c zb_tls_record.c zb_tls_record_test.c)
    set(ZB_TLS_LIBRARY PkgConfig::GNUTLS PkgConfig::NETTLE)
    set(ZB_TLS_DEFINITIONS ZB_TLS_RECORD)
elseif(ZB_TLS STREQUAL "openssl")
    if(NOT TARGET PkgConfig::OPENSSL)
        pkg_check_modules(OPENSSL REQUIRED IMPORTED_TARGET openssl)
    endif()
    set(ZB_TLS_SOURCE zb_tls_openssl.c)
    set(ZB_TLS_LIBRARY PkgConfig::OPENSSL)
    set(ZB_TLS_DEFINITIONS "")
else()
    message(FATAL_ERROR "ZB_TLS is \"${ZB_TLS}\": gnutls or openssl")
endif()
