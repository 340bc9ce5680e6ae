/*
 * pause: the sandbox ("infra") container of every pod on the local real node.
 * containerd's sandbox_image (docker.io/shopmesh/pause:3.10, built by ci/images/build.sh),
 * so kubelet never pulls registry.k8s.io/pause. It holds the pod's namespaces and does
 * nothing else: it sleeps until SIGTERM or SIGINT, then exits 0. Built with gcc -static
 * and committed to a scratch image, so it needs no libc in the image.
 */
#include <signal.h>
#include <unistd.h>

static void stop(int signo) {
    (void)signo;
    _exit(0);
}

int main(void) {
    struct sigaction action = {0};
    action.sa_handler = stop;
    sigemptyset(&action.sa_mask);
    if (sigaction(SIGTERM, &action, NULL) != 0 || sigaction(SIGINT, &action, NULL) != 0) {
        return 1;
    }
    for (;;) {
        pause();
    }
}
