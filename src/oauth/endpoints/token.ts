import { authenticateClient } from "../client-auth.js";
import type { OAuthServer } from "../context.js";
import { invalidRequest, unauthorizedClient, unsupportedGrantType } from "../errors.js";
import { boundThumbprint } from "../mtls.js";
import { postParams, refuseRepeated, requiredParam } from "../params.js";
import { json, type OAuthRequest, type OAuthResponse } from "../request.js";
import { requireSecure } from "../transport.js";

/**
 * The token endpoint (RFC 6749 §3.2, §4.1.3, §4.4.2, §6): parse the form → grant type known → authenticate
 * the client → grant allowed for it → run the grant. Answers §5.1 JSON with `Cache-Control: no-store`.
 * Also `/invoke/pub.oauth/getToken`.
 */
export async function tokenEndpoint(server: OAuthServer, request: OAuthRequest): Promise<OAuthResponse> {
  const settings = await server.settings.get();
  requireSecure(request, settings);
  const params = postParams(request);
  refuseRepeated(params);
  const grantType = requiredParam(params, "grant_type", { max: 100 });
  const grant = server.grants.get(grantType);
  if (!grant) throw unsupportedGrantType(`grant_type ${grantType} is not supported`);
  const { client, method, certificate } = await authenticateClient(server, request, params, {
    allowPublic: true,
  });
  if (!(client.grantTypes as string[]).includes(grantType))
    throw unauthorizedClient(`the client may not use the ${grantType} grant`);
  // RFC 8705 §3: certificate-bound access tokens.
  const bound = boundThumbprint(
    client,
    certificate,
    server.mutualTls ? request.clientCertificate : undefined,
  );
  if (bound instanceof Error) throw invalidRequest(bound.message);
  return json(
    await grant({
      server,
      client,
      method,
      params,
      settings,
      ip: request.ip,
      ...(bound === undefined ? {} : { certificateThumbprint: bound }),
    }),
  );
}
