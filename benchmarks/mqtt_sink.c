/* A discard sink that speaks just enough MQTT for publishers to flood it.
 *
 * Listens on 127.0.0.1:<port> (argv[1]); serves one connection at a time: answers CONNECT
 * with CONNACK, every QoS 1 PUBLISH with a PUBACK (batched per read), PINGREQ with PINGRESP,
 * counts PUBLISH packets and payload bytes, and when the client disconnects prints
 * "<publishes> <bytes>\n" on stdout and waits for the next connection.
 * Built by benchmarks/bench_fleet.py with `cc -O2`; not part of the package.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF (4 << 20)

static int write_all(int fd, const unsigned char *p, size_t n) {
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 18830;
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 16)) {
        perror("sink");
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    unsigned char *buf = malloc(BUF), *acks = malloc(BUF);
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0) continue;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        size_t have = 0;
        unsigned long long publishes = 0, bytes = 0;
        for (;;) {
            ssize_t r = read(fd, buf + have, BUF - have);
            if (r <= 0) break;
            have += (size_t)r;
            size_t pos = 0, nacks = 0;
            for (;;) {
                if (have - pos < 2) break;
                unsigned char type = buf[pos] >> 4;
                size_t len = 0, mult = 1, i = pos + 1;
                int complete = 0;
                while (i < have && i < pos + 5) {
                    len += (buf[i] & 127) * mult;
                    mult *= 128;
                    if (!(buf[i++] & 128)) {
                        complete = 1;
                        break;
                    }
                }
                if (!complete || have - i < len) break;
                if (type == 3) { /* PUBLISH */
                    int qos = (buf[pos] >> 1) & 3;
                    size_t tl = ((size_t)buf[i] << 8) | buf[i + 1];
                    size_t hdr = 2 + tl + (qos ? 2 : 0);
                    publishes++;
                    bytes += len - hdr;
                    if (qos && nacks + 4 <= BUF) {
                        acks[nacks++] = 0x40;
                        acks[nacks++] = 2;
                        acks[nacks++] = buf[i + 2 + tl];
                        acks[nacks++] = buf[i + 3 + tl];
                    }
                } else if (type == 1) { /* CONNECT */
                    static const unsigned char connack[] = {0x20, 2, 0, 0};
                    memcpy(acks + nacks, connack, 4);
                    nacks += 4;
                } else if (type == 12) { /* PINGREQ */
                    acks[nacks++] = 0xd0;
                    acks[nacks++] = 0;
                }
                pos = i + len;
            }
            if (nacks && write_all(fd, acks, nacks)) break;
            memmove(buf, buf + pos, have - pos);
            have -= pos;
        }
        close(fd);
        printf("%llu %llu\n", publishes, bytes);
        fflush(stdout);
    }
}
