/* The Stripe Payment Element of the card payment page (payments_stripe/payment_element.html).
 *
 * Stripe.js collects the card and confirms the PaymentIntent the server made;
 * Stripe then sends the browser to the return URL, where the server reads the
 * intent and applies it. A refusal that needs no redirect is shown here and
 * the client may try again (another card) on the same intent.
 */
(function () {
  "use strict";

  var configNode = document.getElementById("stripe-config");
  var form = document.getElementById("stripe-payment-form");
  if (!configNode || !form) {
    return;
  }
  var config = JSON.parse(configNode.textContent);
  var message = document.getElementById("stripe-payment-message");
  var button = form.querySelector("button[type=submit]");

  function show(text) {
    message.textContent = text;
    message.hidden = !text;
  }

  if (typeof window.Stripe !== "function") {
    show(config.unexpectedError);
    return;
  }

  var stripe = window.Stripe(config.publishableKey, { locale: config.locale });
  var elements = stripe.elements({ clientSecret: config.clientSecret, locale: config.locale });
  var paymentElement = elements.create("payment", { layout: "tabs" });
  paymentElement.mount("#stripe-payment-element");
  paymentElement.on("ready", function () {
    button.disabled = false;
  });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    button.disabled = true;
    show("");
    stripe.confirmPayment({
      elements: elements,
      confirmParams: { return_url: config.returnUrl }
    }).then(function (result) {
      // Only reached when Stripe did not send the browser on to the return URL.
      var error = result.error || {};
      var known = error.type === "card_error" || error.type === "validation_error";
      show(known && error.message ? error.message : config.unexpectedError);
      button.disabled = false;
    }, function () {
      show(config.unexpectedError);
      button.disabled = false;
    });
  });
})();
