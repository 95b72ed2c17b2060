/* The least a ptrace supervisor can do: seize the command with the options faultline uses
 * (auto-attach on fork, vfork and clone, exec stops), then resume every stop at once in a
 * blocking waitpid loop. bench/churn.py runs it beside faultline, so that the cost of the
 * stops the kernel makes every tracer take is told apart from faultline's own.
 *
 *   gcc -O2 -o floor_supervisor floor_supervisor.c && ./floor_supervisor CMD ARGS...
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s CMD [ARGS...]\n", argv[0]);
        return 2;
    }
    pid_t child = fork();
    if (child == 0) {
        raise(SIGSTOP);
        execvp(argv[1], argv + 1);
        _exit(127);
    }
    waitpid(child, NULL, WUNTRACED);
    ptrace(PTRACE_SEIZE, child, 0,
           PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL);
    kill(child, SIGCONT);
    int code = 0;
    for (;;) {
        int status;
        pid_t task = waitpid(-1, &status, __WALL);
        if (task < 0)
            break;
        if (WIFEXITED(status) || WIFSIGNALED(status)) {
            if (task == child) {
                code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                break;
            }
            continue;
        }
        int event = status >> 16, signal = 0;
        if (event == 0) {
            signal = WSTOPSIG(status); /* a signal on its way: deliver it */
            if (signal == SIGTRAP)
                signal = 0;
        }
        ptrace(PTRACE_CONT, task, 0, signal);
    }
    return code;
}
