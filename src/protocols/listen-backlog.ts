/**
 * Connections the kernel queues for a front door until it accepts them. Node's default
 * (511) overflows when a thousand agents connect at once: the kernel drops the rest, and
 * they retry after a second or more. The kernel caps it at net.core.somaxconn.
 */
export const LISTEN_BACKLOG = 4096;
