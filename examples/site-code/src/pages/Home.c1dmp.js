// Page code runs in the browser: it cannot read secrets, it calls backend web methods.
import { createCharge } from 'backend/payments.web';

$w.onReady(function () {
  $w('#pay').onClick(() => createCharge(1000, $w('#token').value));
});
