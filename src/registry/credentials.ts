/**
 * A user name and password, or an identity token for the OAuth2
 * refresh-token flow. `source` names where they were found, such as
 * `auths entry "ghcr.io" in /home/me/.docker/config.json`, for messages; it
 * never contains a secret.
 */
export type Credentials =
  | { username: string; password: string; source?: string }
  | { identityToken: string; source?: string };

/** Looks up the credentials for one registry, and possibly one repository in it. */
export interface CredentialStore {
  /** Returns undefined when no credentials are stored for the registry. */
  get(registry: string, repository?: string): Promise<Credentials | undefined>;
}

/** A store that never returns credentials, for anonymous access. */
export const anonymousCredentials: CredentialStore = {
  get: async () => undefined,
};

/** Asks each store in turn and returns the first credentials found. */
export function firstOf(stores: readonly CredentialStore[]): CredentialStore {
  return {
    async get(registry, repository) {
      for (const store of stores) {
        const credentials = await store.get(registry, repository);
        if (credentials) return credentials;
      }
      return undefined;
    },
  };
}

/** Returns fixed credentials for one registry, and none for every other. */
export function credentialsForRegistry(
  registry: string,
  credentials: Credentials,
): CredentialStore {
  return {
    get: async (name) => (name === registry ? credentials : undefined),
  };
}

/** Describes credentials for a message: where they came from, never their value. */
export function describeCredentials(credentials: Credentials): string {
  const kind = "identityToken" in credentials ? "the identity token" : "the credentials";
  return credentials.source ? `${kind} from ${credentials.source}` : kind;
}
