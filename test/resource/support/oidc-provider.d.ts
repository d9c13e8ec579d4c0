// oidc-provider ships no types; the tests use a handful of its API (see third-party.ts).
declare module "oidc-provider";
