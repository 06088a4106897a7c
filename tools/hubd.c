/* hubd: runs one node, primary or secondary, from a YAML file (SPEC §2). */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hub/config.h"
#include "hub/err.h"
#include "hub/fetch.h"
#include "hub/log.h"
#include "hub/server.h"
#include "hub/store.h"
#include "federation/fed.h"
#include "idp/idp.h"

static void usage(FILE *fp)
{
    fprintf(fp, "usage: hubd -c FILE        run a node\n"
                "       hubd --check -c FILE  validate FILE and exit (0 valid, 2 invalid)\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"check", no_argument, NULL, 'k'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *conf_path = NULL;
    int check_only = 0, opt, ret, exit_code = 1;
    hub_config_t cfg;
    sigset_t stop_signals;
    hub_store_t *store = NULL;
    hub_fetcher_t *fetcher = NULL;
    hub_server_t *server = NULL;
    idp_t *idp = NULL;
    fed_t *fed = NULL;

    while ((opt = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            conf_path = optarg;
            break;
        case 'k':
            check_only = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (conf_path == NULL || optind != argc) {
        fprintf(stderr, "hubd: -c FILE is required\n");
        usage(stderr);
        return 2;
    }

    if ((ret = hub_config_load(&cfg, conf_path, stderr, NULL)) != 0) {
        if (ret != HUB_E_CONFIG)
            fprintf(stderr, "%s: cannot read: %s\n", conf_path, hub_strerror(ret));
        hub_config_dispose(&cfg);
        return 2;
    }
    if (check_only) {
        hub_config_dispose(&cfg);
        return 0;
    }
    hub_log_init(cfg.node.log_level, cfg.node.name);
    /* Block the stop and reload signals before any thread starts (store sweeper, fetcher, keyring),
     * so every thread inherits the mask and only the server's sigwait receives them (an unblocked
     * SIGHUP would end the process). */
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    if ((ret = hub_store_open(&store, cfg.node.data_dir)) != 0) {
        hub_log_error("node.data_dir: cannot open the store in %s: %s", cfg.node.data_dir, hub_strerror(ret));
        goto out;
    }
    hub_store_start_sweeper(store, 30);
    if ((ret = hub_fetcher_create(&fetcher)) != 0) {
        hub_log_error("cannot start the outbound HTTP client: %s", hub_strerror(ret));
        goto out;
    }
    if ((ret = hub_server_create(&server, &cfg, store, fetcher)) != 0)
        goto out;
    ret = cfg.node.role == HUB_ROLE_PRIMARY ? idp_create(&idp, server) : fed_create(&fed, server);
    if (ret != 0)
        goto out;
    if ((ret = hub_server_run(server)) != 0)
        goto out;
    exit_code = 0;

out:
    /* the loops have stopped: nothing uses the role contexts any more */
    idp_destroy(idp);
    fed_destroy(fed);
    hub_server_destroy(server);
    hub_fetcher_destroy(fetcher);
    hub_store_close(store);
    hub_config_dispose(&cfg);
    return exit_code;
}
