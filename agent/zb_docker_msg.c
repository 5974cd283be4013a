/*  zb_docker_msg: the Docker reader's messages, and an inspected
    container read for probing. See zb_docker_msg.h.

    Which address a container is probed at (docs/config-agent.md, "Docker"):
      1. the container's address on one of its networks whose subnet holds
         one of the agent's own addresses: a network the agent shares with
         it, or, for an agent on the host's network, the bridge whose gateway
         the host is. A container that shares another's network namespace
         (network_mode: service:x / container:x) takes that one's networks.
         When that address is the agent's own (the agent is in the same
         namespace), 127.0.0.1, where a loopback-bound server listens too;
      2. else the port published on the host (0.0.0.0 and :: as 127.0.0.1);
      3. else none: one line in the log, and the container is not probed.
*/
#include "zb_docker_msg.h"
#include "zb_log.h"
#include "zb_net.h"

#include <arpa/inet.h>
#include <assert.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

zb_docker_msg_t *zb_docker_msg_new(zb_docker_what_t what, const char *id)
{
    zb_docker_msg_t *msg = calloc(1, sizeof(*msg));
    if (msg) {
        msg->what = what;
        snprintf(msg->id, sizeof(msg->id), "%s", id ? id : "");
    }
    return msg;
}

void zb_docker_msg_destroy(zb_docker_msg_t **msg_p)
{
    assert(msg_p);
    if (*msg_p) {
        zb_agent_config_destroy(&(*msg_p)->config);
        free(*msg_p);
        *msg_p = NULL;
    }
}

static const char *s_str(json_t *object, const char *key)
{
    const char *text = json_string_value(json_object_get(object, key));
    return text ? text : "";
}

//  Whether labels (an object of strings) ask for a probe.
bool zb_docker_msg_labelled(json_t *labels)
{
    return json_object_get(labels, "zbeat.check") || json_object_get(labels, "zbeat.probe");
}

//  Addresses

//  The agent's own IPv4 addresses (at most max); their count.
static size_t s_own_addrs(struct in_addr *addrs, size_t max)
{
    struct ifaddrs *list = NULL;
    size_t count = 0;
    if (getifaddrs(&list) == -1)
        return 0;
    for (struct ifaddrs *i = list; i && count < max; i = i->ifa_next)
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET)
            addrs[count++] = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
    freeifaddrs(list);
    return count;
}

//  Picks the address of a container's networks (NetworkSettings.Networks)
//  that the agent shares. Returns 0 with host set, or -1.
static int s_shared_addr(json_t *networks, char *host, size_t size)
{
    struct in_addr own[64];
    size_t own_count = s_own_addrs(own, 64);
    const char *key;
    json_t *net;
    json_object_foreach(networks, key, net)
    {
        const char *ip = s_str(net, "IPAddress");
        json_int_t prefix = json_integer_value(json_object_get(net, "IPPrefixLen"));
        struct in_addr addr;
        if (inet_pton(AF_INET, ip, &addr) != 1 || prefix < 1 || prefix > 32)
            continue;
        uint32_t mask = prefix == 32 ? 0xffffffffu : ~(0xffffffffu >> prefix);
        for (size_t i = 0; i < own_count; i++) {
            if (own[i].s_addr == addr.s_addr) {
                snprintf(host, size, "127.0.0.1"); // our own namespace
                return 0;
            }
            if ((ntohl(own[i].s_addr) & mask) == (ntohl(addr.s_addr) & mask)) {
                snprintf(host, size, "%s", ip);
                return 0;
            }
        }
    }
    return -1;
}

//  The host side of a published port: NetworkSettings.Ports["6379/tcp"].
static int s_published_addr(json_t *ports, int port, char *target, size_t size)
{
    char key[32];
    snprintf(key, sizeof(key), "%d/tcp", port);
    json_t *bindings = json_object_get(ports, key);
    size_t i;
    json_t *binding;
    json_array_foreach(bindings, i, binding)
    {
        const char *ip = s_str(binding, "HostIp");
        const char *hport = s_str(binding, "HostPort");
        if (!hport[0])
            continue;
        if (strchr(ip, ':'))
            continue; // the IPv4 binding serves as well
        if (!ip[0] || strcmp(ip, "0.0.0.0") == 0)
            ip = "127.0.0.1";
        snprintf(target, size, "%s:%s", ip, hport);
        return 0;
    }
    return -1;
}

//  The port a check speaks on when zbeat.probe does not say.
static int s_check_port(const char *check)
{
    static const struct {
        const char *check;
        int port;
    } ports[] = {{"redis", 6379}, {"memcached", 11211}, {"postgres", 5432}};
    for (size_t i = 0; check && i < sizeof(ports) / sizeof(ports[0]); i++)
        if (strcmp(check, ports[i].check) == 0)
            return ports[i].port;
    return 0;
}

//  The service's name: zbeat.name, else the compose service (with -N for
//  replica N > 1), else the container's name.
static int s_service_name(json_t *labels, const char *container, char *name, size_t size)
{
    const char *given = json_string_value(json_object_get(labels, "zbeat.name"));
    const char *service = json_string_value(json_object_get(labels, "com.docker.compose.service"));
    const char *number =
        json_string_value(json_object_get(labels, "com.docker.compose.container-number"));
    if (given)
        snprintf(name, size, "%s", given);
    else if (service && number && atoi(number) > 1)
        snprintf(name, size, "%s-%d", service, atoi(number));
    else if (service)
        snprintf(name, size, "%s", service);
    else
        snprintf(name, size, "%s", container);
    return zb_name_valid(name) ? 0 : -1;
}

const char *zb_docker_msg_netns(json_t *doc)
{
    const char *mode = s_str(json_object_get(doc, "HostConfig"), "NetworkMode");
    return strncmp(mode, "container:", 10) == 0 && mode[10] ? mode + 10 : NULL;
}

zb_docker_msg_t *zb_docker_msg_container(json_t *doc, json_t *owner)
{
    const char *id = s_str(doc, "Id");
    json_t *config = json_object_get(doc, "Config");
    json_t *labels = json_object_get(config, "Labels");
    json_t *state = json_object_get(doc, "State");
    if (!zb_docker_msg_labelled(labels))
        return NULL;
    const char *container = s_str(doc, "Name");
    if (container[0] == '/')
        container++;
    zb_docker_msg_t *msg = zb_docker_msg_new(ZB_DOCKER_CONTAINER, id);
    if (!msg)
        return NULL;
    snprintf(msg->container, sizeof(msg->container), "%s", container);
    if (s_service_name(labels, container, msg->name, sizeof(msg->name)) == -1) {
        zb_log_warning("docker: container %s: \"%s\" is not a valid service name: not probed "
                       "(set zbeat.name)",
                       container, msg->name);
        goto skip;
    }
    msg->running = json_is_true(json_object_get(state, "Running"));
    msg->exit_code = (int)json_integer_value(json_object_get(state, "ExitCode"));
    msg->oom_killed = json_is_true(json_object_get(state, "OOMKilled"));
    if (!msg->running)
        return msg;

    //  zbeat.health = yes: Docker's healthcheck counts too.
    const char *health = json_string_value(json_object_get(labels, "zbeat.health"));
    if (health && strcmp(health, "yes") != 0 && strcmp(health, "no") != 0) {
        zb_log_warning("docker: container %s: zbeat.health: \"%s\" is not yes or no: not probed",
                       container, health);
        goto skip;
    }
    msg->health = health && strcmp(health, "yes") == 0;
    const char *status = s_str(json_object_get(state, "Health"), "Status");
    msg->unhealthy = strcmp(status, "unhealthy") == 0;

    //  The port: zbeat.probe, or the check's own.
    const char *check = json_string_value(json_object_get(labels, "zbeat.check"));
    const char *probe = json_string_value(json_object_get(labels, "zbeat.probe"));
    int port = s_check_port(check);
    if (probe) {
        char *end = NULL;
        long value = strtol(probe, &end, 10);
        if (!*probe || *end || value < 1 || value > 65535) {
            zb_log_warning("docker: container %s: zbeat.probe: \"%s\" is not a port (1..65535): "
                           "not probed",
                           container, probe);
            goto skip;
        }
        port = (int)value;
    }
    if (!port) {
        zb_log_warning("docker: container %s: zbeat.check = %s needs zbeat.probe = PORT: not "
                       "probed",
                       container, check ? check : "");
        goto skip;
    }

    //  The address (see the top of this file).
    json_t *settings = json_object_get(doc, "NetworkSettings");
    json_t *networks = json_object_get(settings, "Networks");
    const char *mode = s_str(json_object_get(doc, "HostConfig"), "NetworkMode");
    if (zb_docker_msg_netns(doc))
        networks = json_object_get(json_object_get(owner, "NetworkSettings"), "Networks");
    char host[64], target[ZB_PROBE_TARGET_MAX + 1];
    int found = -1;
    if (strcmp(mode, "host") == 0) {
        snprintf(target, sizeof(target), "127.0.0.1:%d", port);
        found = 0;
    } else if (s_shared_addr(networks, host, sizeof(host)) == 0) {
        snprintf(target, sizeof(target), "%s:%d", host, port);
        found = 0;
    } else
        found = s_published_addr(json_object_get(settings, "Ports"), port, target, sizeof(target));
    if (found == -1) {
        zb_log_warning("docker: container %s: no address the agent can reach (no network "
                       "shared with it, port %d not published): not probed",
                       container, port);
        goto skip;
    }

    //  The other zbeat.* labels are the service's keys, checked as in the
    //  file (zb_agent_config_service).
    const char *keys[32], *values[32];
    size_t count = 0;
    keys[count] = "probe";
    values[count++] = target;
    const char *key;
    json_t *value;
    json_object_foreach(labels, key, value)
    {
        if (strncmp(key, "zbeat.", 6) != 0 || strcmp(key, "zbeat.name") == 0 ||
            strcmp(key, "zbeat.probe") == 0 || strcmp(key, "zbeat.health") == 0 ||
            !json_is_string(value))
            continue;
        if (count == sizeof(keys) / sizeof(keys[0])) {
            zb_log_warning("docker: container %s: too many zbeat labels: not probed", container);
            goto skip;
        }
        keys[count] = key + 6;
        values[count++] = json_string_value(value);
    }
    char source[200], err[512];
    snprintf(source, sizeof(source), "docker container %s", container);
    msg->config = zb_agent_config_service(source, msg->name, keys, values, count, err, sizeof(err));
    if (!msg->config) {
        zb_log_warning("%s: not probed", err);
        goto skip;
    }
    return msg;
skip:
    zb_docker_msg_destroy(&msg);
    return NULL;
}

void zb_docker_msg_test(bool verbose)
{
    (void)verbose;
    //  Names: zbeat.name, compose service (and replica), container name.
    json_t *labels = json_pack("{s:s, s:s}", "com.docker.compose.service", "worker",
                               "com.docker.compose.container-number", "3");
    char name[ZB_NAME_MAX + 1];
    assert(s_service_name(labels, "shop_worker_3", name, sizeof(name)) == 0);
    assert(strcmp(name, "worker-3") == 0);
    json_object_set_new(labels, "com.docker.compose.container-number", json_string("1"));
    assert(s_service_name(labels, "shop_worker_1", name, sizeof(name)) == 0);
    assert(strcmp(name, "worker") == 0);
    json_object_set_new(labels, "zbeat.name", json_string("queue"));
    assert(s_service_name(labels, "x", name, sizeof(name)) == 0 && strcmp(name, "queue") == 0);
    json_object_set_new(labels, "zbeat.name", json_string("bad name"));
    assert(s_service_name(labels, "x", name, sizeof(name)) == -1);
    json_decref(labels);
    labels = json_object();
    assert(s_service_name(labels, "cache", name, sizeof(name)) == 0 && strcmp(name, "cache") == 0);
    assert(!zb_docker_msg_labelled(labels));
    json_object_set_new(labels, "zbeat.probe", json_string("1"));
    assert(zb_docker_msg_labelled(labels));
    json_decref(labels);

    //  Addresses: loopback is always ours, so a container "on" 127.0.0.0/8
    //  is in our own namespace; a published port when nothing is shared.
    char host[64], target[64];
    json_t *networks =
        json_pack("{s:{s:s, s:i}, s:{s:s, s:i}}", "far", "IPAddress", "192.0.2.7", "IPPrefixLen",
                  32, "lo", "IPAddress", "127.0.0.1", "IPPrefixLen", 8);
    assert(s_shared_addr(networks, host, sizeof(host)) == 0 && strcmp(host, "127.0.0.1") == 0);
    json_decref(networks);
    networks = json_pack("{s:{s:s, s:i}}", "far", "IPAddress", "192.0.2.7", "IPPrefixLen", 32);
    assert(s_shared_addr(networks, host, sizeof(host)) == -1);
    json_decref(networks);
    json_t *ports = json_pack("{s:[{s:s, s:s}, {s:s, s:s}]}", "6379/tcp", "HostIp",
                              "::", "HostPort", "16379", "HostIp", "0.0.0.0", "HostPort", "16379");
    assert(s_published_addr(ports, 6379, target, sizeof(target)) == 0);
    assert(strcmp(target, "127.0.0.1:16379") == 0);
    assert(s_published_addr(ports, 80, target, sizeof(target)) == -1);
    json_decref(ports);
    assert(s_check_port("redis") == 6379 && s_check_port("tcp") == 0 && s_check_port(NULL) == 0);
}
