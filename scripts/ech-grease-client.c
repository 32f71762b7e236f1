/* A TLS 1.3 client that offers Encrypted Client Hello the way browsers do
 * when they have no ECH configuration for the server: a "GREASE" ECH
 * extension (draft-ietf-tls-esni, 0xFE0D, outer form) of random bytes beside
 * the real server_name. OpenSSL 3.0 has no ECH, so the extension is added as
 * a custom one; a server that does not know ECH ignores it and completes the
 * handshake. craft-protocols.py records it against s_server, so the capture's
 * ClientHello carries an ECH extension on the wire while the rest is OpenSSL's
 * own TLS.
 *
 *     cc -O2 -o ech-grease-client ech-grease-client.c -lssl -lcrypto
 *     ./ech-grease-client 127.0.0.1 PORT SERVER_NAME
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static unsigned char extension[1 + 2 + 2 + 1 + 2 + 32 + 2 + 208];

static int add_ech(SSL *ssl, unsigned int type, unsigned int context, const unsigned char **out, size_t *length,
                   X509 *x509, size_t chain_index, int *alert, void *arg) {
    (void)ssl; (void)type; (void)context; (void)x509; (void)chain_index; (void)alert; (void)arg;
    *out = extension;
    *length = sizeof extension;
    return 1;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s ADDRESS PORT SERVER_NAME\n", argv[0]);
        return 2;
    }
    /* ECHClientHello, outer: type 0, HPKE KDF HKDF-SHA256 (1) and AEAD
     * AES-128-GCM (1), a config id, enc<2> (an X25519 key's 32 bytes) and
     * payload<2> (the encrypted inner hello): random, as GREASE sends them. */
    unsigned char *p = extension;
    *p++ = 0;
    *p++ = 0; *p++ = 1; *p++ = 0; *p++ = 1;
    if (RAND_bytes(p, 1) != 1) return 1;
    p += 1;
    *p++ = 0; *p++ = 32;
    if (RAND_bytes(p, 32) != 1) return 1;
    p += 32;
    *p++ = 0; *p++ = 208;
    if (RAND_bytes(p, 208) != 1) return 1;

    SSL_CTX *context = SSL_CTX_new(TLS_client_method());
    if (!context || !SSL_CTX_set_min_proto_version(context, TLS1_3_VERSION)
        || !SSL_CTX_add_custom_ext(context, 0xFE0D, SSL_EXT_CLIENT_HELLO, add_ech, NULL, NULL, NULL, NULL)) {
        fprintf(stderr, "OpenSSL would not add the extension\n");
        return 1;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2]))};
    if (fd < 0 || inet_pton(AF_INET, argv[1], &address.sin_addr) != 1
        || connect(fd, (struct sockaddr *)&address, sizeof address) != 0) {
        perror("connect");
        return 1;
    }
    SSL *ssl = SSL_new(context);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, argv[3]);
    if (SSL_connect(ssl) != 1) {
        fprintf(stderr, "TLS handshake failed\n");
        return 1;
    }
    const char request[] = "GET / HTTP/1.0\r\n\r\n";
    SSL_write(ssl, request, (int)strlen(request));
    char buffer[4096];
    while (SSL_read(ssl, buffer, sizeof buffer) > 0) {
    }
    printf("%s\n", SSL_get_version(ssl));
    SSL_shutdown(ssl);
    SSL_free(ssl);
    close(fd);
    SSL_CTX_free(context);
    return 0;
}
