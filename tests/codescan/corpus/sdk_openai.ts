// Wix CLI / SDK code in TypeScript: @wix/secrets with @wix/essentials.
import { secrets } from "@wix/secrets";
import { auth } from "@wix/essentials";

enum SecretName {
  OpenAi = "OPENAI_API_KEY",
  Twilio = "TWILIO_AUTH_TOKEN",
}

const DATABASE: string = 'DATABASE_URL' as const;
const KEYS = Object.freeze({ analytics: "SEGMENT_WRITE_KEY", "maps": `GOOGLE_MAPS_KEY` });

interface SecretReader {
  getSecretValue(name: string): Promise<{ value?: string | null }>;
}

type Getter = typeof secrets.getSecretValue;

export async function complete(prompt: string): Promise<string> {
  const { value } = await auth.elevate(secrets.getSecretValue)(SecretName.OpenAi);
  const db = await auth.elevate(secrets.getSecretValue)(DATABASE);
  const twilio = await secrets.getSecretValue(SecretName["Twilio"]);
  const segment = await secrets.getSecretValue(KEYS.analytics);
  const maps = (await secrets.getSecretValue(KEYS["maps"])) as { value: string };
  return `${value}${db.value}${twilio.value}${segment.value}${maps.value}${prompt}`;
}
