/**
 * Whether an address is this host's loopback address itself: a process beside the service, in
 * its container or pod, such as the agent that loads and unloads models in a Seldon Core v2
 * Server. Only 127.0.0.1 and ::1 (also as an IPv4-mapped address), not the rest of 127/8:
 * Istio's sidecar delivers every inbound call from 127.0.0.6.
 */
export function isLoopbackAddress(address: string): boolean {
  return address === '127.0.0.1' || address === '::1' || address.toLowerCase() === '::ffff:127.0.0.1';
}

/**
 * The same, of a gRPC peer (grpc-js's `call.getPeer()`: `127.0.0.1:5000`, `::1:5000`; older
 * versions `ipv4:127.0.0.1:5000` or `[::1]:5000`).
 */
export function isLoopbackPeer(peer: string): boolean {
  const address = peer.replace(/^ipv[46]:/, '');
  const bracketed = /^\[([^\]]+)\]:\d+$/.exec(address);
  return isLoopbackAddress(bracketed ? bracketed[1] : address.replace(/:\d+$/, ''));
}
