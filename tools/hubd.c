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

/* Reads the command line into *conf_path and *check_only. Returns -1 to go on, else the exit status (--help: 0,
 * a bad command line: 2). */
static int parse_args(int argc, char **argv, const char **conf_path, int *check_only)
{
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"check", no_argument, NULL, 'k'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int opt;

    while ((opt = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            *conf_path = optarg;
            break;
        case 'k':
            *check_only = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (*conf_path == NULL || optind != argc) {
        fprintf(stderr, "hubd: -c FILE is required\n");
        usage(stderr);
        return 2;
    }
    return -1;
}

/* Blocks the stop and reload signals before any thread starts (store sweeper, fetcher, keyring), so every thread
 * inherits the mask and only the server's sigwait receives them (an unblocked SIGHUP would end the process). */
static void block_signals(void)
{
    sigset_t stop_signals;

    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* Runs the node cfg describes until a stop signal. Returns 0 after a clean stop, 1 when it could not start. */
static int run_node(const hub_config_t *cfg)
{
    hub_store_t *store = NULL;
    hub_fetcher_t *fetcher = NULL;
    hub_server_t *server = NULL;
    idp_t *idp = NULL;
    fed_t *fed = NULL;
    char why[512];
    int ret, exit_code = 1;

    /* the store cfg names (SPEC §9). On PostgreSQL every store call is still a synchronous round trip made by the
     * calling thread, event loops included (hub_store_reads_inline says so; keeping them off the loops is the
     * handlers' side). A database away for now is waited for: the node listens drained (the store held) and the
     * primary loads what start-up reads once the database answers (idp_create); anything else refuses to start. */
    if ((ret = hub_store_open_config(&store, cfg, HUB_STORE_WAIT, why, sizeof(why))) != 0) {
        hub_log_error("%s", why);
        goto out;
    }
    if (hub_store_held(store))
        hub_log_warn("%s", why);
    hub_store_start_sweeper(store, 30);
    if ((ret = hub_fetcher_create(&fetcher)) != 0) {
        hub_log_error("cannot start the outbound HTTP client: %s", hub_strerror(ret));
        goto out;
    }
    if ((ret = hub_server_create(&server, cfg, store, fetcher)) != 0)
        goto out;
    ret = cfg->node.role == HUB_ROLE_PRIMARY ? idp_create(&idp, server) : fed_create(&fed, server);
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
    return exit_code;
}

int main(int argc, char **argv)
{
    const char *conf_path = NULL;
    int check_only = 0, ret;
    hub_config_t cfg;

    if ((ret = parse_args(argc, argv, &conf_path, &check_only)) >= 0)
        return ret;
    if ((ret = hub_config_load(&cfg, conf_path, stderr, NULL)) != 0) {
        if (ret != HUB_E_CONFIG && ret != HUB_E_IO) /* hub_config_load told those */
            fprintf(stderr, "%s: cannot read: %s\n", conf_path, hub_strerror(ret));
        hub_config_dispose(&cfg);
        return 2;
    }
    if (!check_only) {
        hub_log_init(cfg.node.log_level, cfg.node.name);
        block_signals();
        ret = run_node(&cfg);
    }
    hub_config_dispose(&cfg);
    return ret;
}
