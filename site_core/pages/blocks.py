"""StreamField blocks of the kernel's pages."""

from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.images.blocks import ImageChooserBlock


class ImageWithCaptionBlock(blocks.StructBlock):
    image = ImageChooserBlock(label=_("Image"))
    alt_text = blocks.CharBlock(
        label=_("Alternative text"),
        max_length=200,
        help_text=_("Describe the image for people who cannot see it."),
    )
    caption = blocks.CharBlock(label=_("Caption"), required=False, max_length=200)

    class Meta:
        icon = "image"
        template = "site_core/blocks/image.html"


class QuoteBlock(blocks.StructBlock):
    text = blocks.TextBlock(label=_("Quote"))
    author = blocks.CharBlock(label=_("Author"), required=False, max_length=120)

    class Meta:
        icon = "openquote"
        template = "site_core/blocks/quote.html"


class QuestionBlock(blocks.StructBlock):
    question = blocks.CharBlock(label=_("Question"), max_length=250)
    answer = blocks.RichTextBlock(label=_("Answer"), features=["bold", "italic", "link", "ol", "ul"])

    class Meta:
        icon = "help"
        template = "site_core/blocks/question.html"


RICH_FEATURES = ["h3", "h4", "bold", "italic", "link", "ol", "ul"]


def body_blocks():
    return [
        ("heading", blocks.CharBlock(label=_("Heading"), form_classname="title", icon="title",
                                     template="site_core/blocks/heading.html")),
        ("paragraph", blocks.RichTextBlock(label=_("Paragraph"), features=RICH_FEATURES)),
        ("image", ImageWithCaptionBlock(label=_("Image"))),
        ("quote", QuoteBlock(label=_("Quote"))),
        ("question", QuestionBlock(label=_("Question and answer"))),
    ]
