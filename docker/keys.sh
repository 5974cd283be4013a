#!/bin/sh
#   The compose stack's one-shot `keygen` service: CURVE keys for the monitor
#   and every demo host on the volume zbeat-keys (mounted at /keys), made once:
#   existing keys are kept, so `docker-compose up` again changes nothing, and
#   running it again with more names in ZBEAT_KEY_HOSTS only adds those hosts.
#
#   /keys/monitor/monitor.cert_secret   the monitor's monitor/cert
#   /keys/agents/HOST.cert              the monitor's allow-list (monitor/agents)
#   /keys/HOST/HOST.cert_secret         HOST's agent/cert
#   /keys/HOST/monitor.cert             HOST's agent/monitor-cert
#
#   Runs as root so that it works on a volume of any ownership (one made by an
#   older version of the stack, say), then hands everything to the user zbeat
#   that the monitor and the agents run as. Secrets stay 0600.
set -eu

hosts=${ZBEAT_KEY_HOSTS:?"ZBEAT_KEY_HOSTS: the host names to make keys for"}

if [ ! -e /keys/monitor/monitor.cert_secret ]; then
    zbeat keygen --monitor --out /keys/monitor
fi
mkdir -p /keys/agents
for host in $hosts; do
    if [ ! -e "/keys/$host/$host.cert_secret" ]; then
        zbeat keygen --host "$host" --out "/keys/$host"
        #   Admitted when the key is made, and only then: a host revoked by
        #   removing its file from /keys/agents stays revoked on the next `up`.
        cp "/keys/$host/$host.cert" "/keys/agents/$host.cert"
    fi
    #   Every time: should the monitor's key be made again, every host gets it.
    cp "/keys/monitor/monitor.cert" "/keys/$host/monitor.cert"
done
chown -R zbeat:zbeat /keys
chmod 0755 /keys /keys/agents
echo "keys: ready in /keys for the monitor and $hosts"
