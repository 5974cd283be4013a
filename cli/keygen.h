/*  keygen: `zbeat keygen`, CURVE key pairs for agents and the monitor
    (docs/security.md).

    zbeat keygen --host NAME --out DIR [--force]
        DIR/NAME.cert         public; copy it into the monitor's agents directory
        DIR/NAME.cert_secret  secret; stays on that host (agent/cert)
        Both carry the metadata host = NAME: the monitor accepts messages
        from this key for that host only.
    zbeat keygen --monitor --out DIR [--force]
        DIR/monitor.cert         public; every agent's agent/monitor-cert
        DIR/monitor.cert_secret  secret; the monitor's monitor/cert

    czmq's zcert file format. Existing files are never replaced without
    --force. Exit: 0, 1 when a file cannot be written, 2 on bad usage.
*/
#ifndef ZB_KEYGEN_H
#define ZB_KEYGEN_H

//  argv[0] is "keygen".
int zb_keygen_main(int argc, char *argv[]);

#endif
