//! Every word a customer reads on paygate's pages, in French, Arabic and English. One table per
//! language with the same fields, so a missing translation does not compile.

use super::lang::Lang;

/// A heading and the sentence under it.
pub(crate) struct Said {
    pub heading: &'static str,
    pub body: &'static str,
}

pub(crate) struct Text {
    /// The page title when the shop has no display name.
    pub payment: &'static str,
    pub amount: &'static str,
    /// Label of the shop's own order reference.
    pub order: &'static str,
    pub back: &'static str,
    pub close: &'static str,
    pub accepted: Said,
    pub refunded: Said,
    pub cancelled: Said,
    pub declined: Said,
    pub failed: Said,
    pub pending: Said,
    pub not_found: Said,
    pub unavailable: Said,
    pub error: Said,
}

pub(crate) fn text(lang: Lang) -> &'static Text {
    match lang {
        Lang::Fr => &FR,
        Lang::Ar => &AR,
        Lang::En => &EN,
    }
}

const FR: Text = Text {
    payment: "Paiement",
    amount: "Montant",
    order: "Commande",
    back: "Retour à la boutique",
    close: "Vous pouvez fermer cette fenêtre.",
    accepted: Said {
        heading: "Paiement accepté",
        body: "Votre paiement a été accepté. Merci pour votre achat.",
    },
    refunded: Said {
        heading: "Paiement remboursé",
        body: "Ce paiement vous a été remboursé.",
    },
    cancelled: Said {
        heading: "Paiement annulé",
        body: "Ce paiement a été annulé. Aucun montant ne vous sera prélevé.",
    },
    declined: Said {
        heading: "Paiement refusé",
        body: "Votre paiement a été refusé. Vous pouvez réessayer depuis la boutique, avec une autre carte si besoin.",
    },
    failed: Said {
        heading: "Paiement non abouti",
        body: "Le paiement n'a pas pu être effectué. Vous pouvez réessayer depuis la boutique.",
    },
    pending: Said {
        heading: "Paiement en cours de vérification",
        body: "Votre paiement n'est pas encore confirmé. La boutique vous informera du résultat ; inutile de payer à nouveau.",
    },
    not_found: Said {
        heading: "Page introuvable",
        body: "Ce lien n'est pas valide. Si vous avez payé, la boutique vous confirmera votre commande.",
    },
    unavailable: Said {
        heading: "Service momentanément indisponible",
        body: "Nous ne pouvons pas afficher votre paiement pour le moment. Rechargez cette page dans un instant.",
    },
    error: Said {
        heading: "Une erreur est survenue",
        body: "Nous ne pouvons pas afficher votre paiement. Si vous avez payé, la boutique vous confirmera votre commande.",
    },
};

const AR: Text = Text {
    payment: "الدفع",
    amount: "المبلغ",
    order: "رقم الطلب",
    back: "العودة إلى المتجر",
    close: "يمكنك إغلاق هذه النافذة.",
    accepted: Said {
        heading: "تم قبول الدفع",
        body: "تم قبول دفعتك. شكرا على مشترياتك.",
    },
    refunded: Said {
        heading: "تم استرجاع المبلغ",
        body: "تم إرجاع مبلغ هذا الدفع إليك.",
    },
    cancelled: Said {
        heading: "تم إلغاء الدفع",
        body: "تم إلغاء هذا الدفع. لن يتم اقتطاع أي مبلغ منك.",
    },
    declined: Said {
        heading: "تم رفض الدفع",
        body: "تم رفض دفعتك. يمكنك المحاولة مرة أخرى من المتجر، باستعمال بطاقة أخرى إن لزم الأمر.",
    },
    failed: Said {
        heading: "لم يكتمل الدفع",
        body: "تعذر إتمام الدفع. يمكنك المحاولة مرة أخرى من المتجر.",
    },
    pending: Said {
        heading: "الدفع قيد التحقق",
        body: "لم يتم تأكيد دفعتك بعد. سيخبرك المتجر بالنتيجة، فلا داعي للدفع مرة أخرى.",
    },
    not_found: Said {
        heading: "الصفحة غير موجودة",
        body: "هذا الرابط غير صالح. إذا كنت قد دفعت، فسيؤكد لك المتجر طلبك.",
    },
    unavailable: Said {
        heading: "الخدمة غير متاحة مؤقتا",
        body: "لا يمكننا عرض دفعتك حاليا. يرجى إعادة تحميل هذه الصفحة بعد لحظات.",
    },
    error: Said {
        heading: "حدث خطأ",
        body: "لا يمكننا عرض دفعتك. إذا كنت قد دفعت، فسيؤكد لك المتجر طلبك.",
    },
};

const EN: Text = Text {
    payment: "Payment",
    amount: "Amount",
    order: "Order",
    back: "Back to the shop",
    close: "You can close this window.",
    accepted: Said {
        heading: "Payment accepted",
        body: "Your payment was accepted. Thank you for your purchase.",
    },
    refunded: Said {
        heading: "Payment refunded",
        body: "This payment has been refunded to you.",
    },
    cancelled: Said {
        heading: "Payment cancelled",
        body: "This payment was cancelled. You will not be charged.",
    },
    declined: Said {
        heading: "Payment declined",
        body: "Your payment was declined. You can try again from the shop, with another card if needed.",
    },
    failed: Said {
        heading: "Payment not completed",
        body: "The payment could not be completed. You can try again from the shop.",
    },
    pending: Said {
        heading: "Payment being checked",
        body: "Your payment is not confirmed yet. The shop will tell you the result; there is no need to pay again.",
    },
    not_found: Said {
        heading: "Page not found",
        body: "This link is not valid. If you paid, the shop will confirm your order.",
    },
    unavailable: Said {
        heading: "Temporarily unavailable",
        body: "We cannot show your payment right now. Please reload this page in a moment.",
    },
    error: Said {
        heading: "Something went wrong",
        body: "We cannot show your payment. If you paid, the shop will confirm your order.",
    },
};
