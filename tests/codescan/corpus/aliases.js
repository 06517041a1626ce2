import { getSecret as fetchSecret } from 'wix-secrets-backend';
import * as wixSecretsBackend from 'wix-secrets-backend';
const { getSecret: requiredGetSecret } = require('wix-secrets-backend');

const SUFFIX = "_TOKEN";

export async function run() {
  await fetchSecret("ALIASED");
  await requiredGetSecret('REQUIRED');
  await wixSecretsBackend.getSecret("NAMESPACED");
  await wixSecretsBackend["getSecret"]("COMPUTED_MEMBER");
  await fetchSecret("SLACK" + SUFFIX);
  await wixSecretsBackend.getSecret?.("OPTIONAL_CALL");
}
