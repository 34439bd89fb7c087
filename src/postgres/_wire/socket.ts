/**
 * The transport under a connection: a TCP or Unix socket to one endpoint,
 * and TLS on top when the server accepts it and the TLS mode wants it.
 *
 * @module
 */
import { connect as connectTcp, type Socket } from "node:net";
import {
  checkServerIdentity,
  connect as connectTls,
  type PeerCertificate,
  type TLSSocket,
} from "node:tls";
import type { Endpoint } from "../_database_url.ts";
import type { ConnectionConfig } from "./connection.ts";
import { Lost } from "./errors.ts";
import { ProtocolError } from "./protocol.ts";

/** Opens a socket to one endpoint (not yet TLS). */
export function openSocket(endpoint: Endpoint): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const socket = "path" in endpoint
      ? connectTcp({ path: `${endpoint.path}/.s.PGSQL.${endpoint.port}` })
      : connectTcp({ host: endpoint.host, port: endpoint.port, noDelay: true });
    const onError = (error: Error) => {
      socket.destroy();
      reject(error);
    };
    socket.once("error", onError);
    socket.once("connect", () => {
      socket.removeListener("error", onError);
      resolve(socket);
    });
  });
}

/** Reads the one-byte answer to an SSLRequest. */
export function readSslAnswer(socket: Socket): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const cleanup = () => {
      socket.removeListener("data", onData);
      socket.removeListener("error", onError);
      socket.removeListener("close", onClose);
    };
    const onData = (data: Uint8Array) => {
      cleanup();
      if (data.length !== 1) {
        reject(new ProtocolError("more than one byte in answer to SSLRequest"));
      } else resolve(data[0]!);
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onClose = () => {
      cleanup();
      reject(new Lost("The server closed the connection", "CLOSED", false));
    };
    socket.on("data", onData);
    socket.once("error", onError);
    socket.once("close", onClose);
  });
}

export async function startTls(
  socket: Socket,
  endpoint: Endpoint & { host: string },
  config: ConnectionConfig,
): Promise<TLSSocket> {
  let ca: string | undefined;
  if (config.sslRootCert) ca = await Deno.readTextFile(config.sslRootCert);
  const verify = config.ssl === "verify-ca" || config.ssl === "verify-full" ||
    (config.ssl === "require" && ca !== undefined);
  return await new Promise<TLSSocket>((resolve, reject) => {
    const isIp = /^[\d.]+$|:/.test(endpoint.host);
    const tls = connectTls({
      socket,
      host: endpoint.host,
      servername: isIp ? undefined : endpoint.host,
      rejectUnauthorized: verify,
      ...(ca !== undefined ? { ca } : {}),
      // verify-full checks the certificate names the host we asked for;
      // the other modes check the chain only (or nothing)
      checkServerIdentity: config.ssl === "verify-full"
        ? (_name: string, cert: PeerCertificate) =>
          checkServerIdentity(endpoint.host, cert)
        : () => undefined,
    });
    const onError = (error: Error) => {
      tls.destroy();
      reject(error);
    };
    tls.once("error", onError);
    tls.once("secureConnect", () => {
      tls.removeListener("error", onError);
      resolve(tls);
    });
  });
}
