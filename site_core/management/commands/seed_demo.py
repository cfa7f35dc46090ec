from django.core.management.base import BaseCommand

from site_core.demo import DEMO_PASSWORD, OWNER, seed


class Command(BaseCommand):
    help = "Creates the demo practices (idempotent) and prints their logins."

    def handle(self, *args, **options):
        demos = seed(self.stdout)
        self.stdout.write(self.style.SUCCESS("\nThe install"))
        self.stdout.write(f"  owner   {OWNER[0]}  →  every practice's admin (superuser)")
        for practice, demo in demos:
            url = f"http://{practice['hostname']}:{practice['port']}/"
            self.stdout.write(self.style.SUCCESS(f"\n{practice['name']} — {url} (theme {practice['theme']})"))
            self.stdout.write(f"  admin   {demo.admin.email}  →  {url}admin/ (this practice only)")
            for expert, page_fr, _page_en in demo.experts:
                self.stdout.write(f"  expert  {expert.user.email}  →  {url}{page_fr.slug}/")
            self.stdout.write(f"  client  {demo.client.email}")
        self.stdout.write(f"\nEvery demo account's password: {DEMO_PASSWORD}\n")
