import type { ScreenProps } from "../routes.js";
import { Page } from "../ui.js";

// Placeholder until the screen is built.
export default function Screen(_props: ScreenProps) {
  return (
    <Page title="global-variables">
      <p>Not built yet.</p>
    </Page>
  );
}
