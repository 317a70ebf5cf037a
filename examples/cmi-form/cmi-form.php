<?php
/*
 * The page that takes the customer to CMI's hosted payment page: paygate's
 * next_action.form_post as a form that submits itself (and a button when JavaScript is off).
 *
 * Expects $formPost, the form_post of paygate's Authorize reply as an array:
 *   ['url' => 'https://payment.cmi.co.ma/fim/est3Dgate', 'fields' => ['clientid' => '600000000', ...]]
 *
 * Post every field exactly as given and nothing else: CMI checks a hash over all of them, so an
 * added, dropped or altered field is refused. Every value goes through htmlspecialchars: fields
 * carry URLs with '&', and text such as the description may hold '"' or '<'; unescaped, they
 * cut the attribute short and the hash no longer matches (or worse, inject markup).
 *
 * Copy it into your shop and change the words; render.php beside it shows how it is fed.
 */
$e = static fn ($text): string => htmlspecialchars((string) $text, ENT_QUOTES | ENT_SUBSTITUTE | ENT_HTML5, 'UTF-8');
?>
<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Paiement sécurisé</title>
</head>
<body>
<form id="cmi-pay" method="post" action="<?= $e($formPost['url']) ?>" accept-charset="UTF-8">
<?php foreach ($formPost['fields'] as $name => $value): ?>
  <input type="hidden" name="<?= $e($name) ?>" value="<?= $e($value) ?>">
<?php endforeach; ?>
  <p>Vous allez être redirigé vers la page de paiement sécurisé du CMI.</p>
  <noscript><button type="submit">Continuer vers le paiement</button></noscript>
</form>
<script>document.getElementById("cmi-pay").submit();</script>
</body>
</html>
